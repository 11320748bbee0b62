export { compileRules, type Classification, type ClassifiedRequest, type Classifier } from './compile.js';
export {
  priorityRulesSchema, priorityRuleSchema, ruleMatchSchema, isCidr,
  DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY, MAX_RULES,
  type PriorityRules, type PriorityRule, type RuleMatch,
} from './rules.js';

/**
 * Answers already worked out and encoded, for one compiled state (a new state gets a new, empty cache, so
 * nothing outlives an update). An entry is keyed by everything that shapes its records: the question's
 * lower-case name, type and class, and, for answers that depend on the client (a site's addresses), the
 * client's POP preference list and network, which together decide the chosen front-ends (select.ts). What varies per
 * query (ID, flags, the question's case, EDNS, ECS scope, fitting) is added when the response is written.
 */
import { answerQuestion } from './answer.js';
import { signAnswer } from './dnssec/sign-answer.js';
import { PairCache } from './bounded-cache.js';
import type { ClientLocation } from './location.js';
import type { Tally, Transport } from './metrics.js';
import type { SelectionBasis } from './select.js';
import type { Question } from './wire/query.js';
import { encodeSections, type EncodedSections } from './wire/sections.js';
import type { ZoneIndex } from './zone-index.js';

export interface CachedAnswer {
  /** The rate limiter's bucket for this answer: its kind and the name it is about. */
  limitKey: string;
  rcode: number;
  authoritative: boolean;
  sections: EncodedSections;
  /** Front-end ids in the answer, best first (for metrics). */
  frontEnds: readonly string[];
  /** How the front-ends were chosen, when a site name was asked for addresses. */
  basis?: SelectionBasis;
  /** The counters one sending of this answer bumps, per transport: set by the redirector on first use. */
  tallies?: Record<Transport, Tally[]>;
}

export interface LocatedAnswer {
  answer: CachedAnswer;
  /** ECS SCOPE PREFIX-LENGTH: the POP table match's for answers that depend on the client, else 0. */
  scopeLength: number;
}

/** Stands for an answer that depends on where the client is: look again with the client in the key. */
interface DependsOnClient {
  /** Unique in this cache, to key the client-specific answers. */
  id: number;
}

export class AnswerCache {
  /** Lower-case name, then type and class → its answer, or the mark that it depends on the client. */
  private readonly byQuestion: PairCache<string, number, CachedAnswer | DependsOnClient>;
  /** Client network, then question mark and POP list → the answer for those clients. */
  private readonly byClient: PairCache<string, number, CachedAnswer>;
  /** POP preference lists (the table's own arrays, and its "none") → small ids, fewer than `popListSpace`. */
  private readonly popListIds = new Map<readonly string[], number>();
  private readonly popListSpace: number;
  private nextMarkId = 0;

  constructor(
    private readonly index: ZoneIndex,
    limit: number,
    /** Wall-clock seconds, for DNSSEC signature times. */
    private readonly nowSeconds: () => number,
  ) {
    this.byQuestion = new PairCache(limit);
    this.byClient = new PairCache(limit);
    this.popListSpace = Object.keys(index.state.popPreferences).length + 1;
  }

  /** `dnssecOk` (the query's DO bit) asks for the signed form where the zone is signed. */
  lookup(question: Question, location: ClientLocation, dnssecOk: boolean): LocatedAnswer {
    const typeAndClass = (question.type * 0x10000 + question.class) * 2 + (dnssecOk ? 1 : 0);
    const known = this.byQuestion.get(question.key, typeAndClass);
    if (known === undefined) return this.answer(question, location, typeAndClass, dnssecOk);
    if (!('id' in known)) return { answer: known, scopeLength: 0 };
    const match = this.index.popTable.lookup(location.address);
    const answer = this.byClient.get(location.networkKey, this.clientSlot(known, match.pops));
    if (answer !== undefined) return { answer, scopeLength: match.scopeLength };
    return this.answer(question, location, typeAndClass, dnssecOk);
  }

  /** Works the answer out, signs it when asked, encodes it and remembers it. */
  private answer(question: Question, location: ClientLocation, typeAndClass: number, dnssecOk: boolean): LocatedAnswer {
    const plain = answerQuestion(this.index, question, location);
    const answer = dnssecOk ? signAnswer(this.index, plain, question.type, this.nowSeconds()) : plain;
    const cached: CachedAnswer = {
      limitKey: `${answer.kind} ${answer.limitName}`,
      rcode: answer.rcode,
      authoritative: answer.authoritative,
      sections: encodeSections(question.key, answer),
      frontEnds: answer.frontEnds,
      basis: answer.basis,
    };
    // Only a site's addresses are chosen per client, and they always say how (`basis`).
    if (answer.basis === undefined) {
      this.byQuestion.set(question.key, typeAndClass, cached);
      return { answer: cached, scopeLength: 0 };
    }
    let mark = this.byQuestion.get(question.key, typeAndClass);
    if (mark === undefined || !('id' in mark)) {
      mark = { id: this.nextMarkId++ };
      this.byQuestion.set(question.key, typeAndClass, mark);
    }
    const match = this.index.popTable.lookup(location.address);
    this.byClient.set(location.networkKey, this.clientSlot(mark, match.pops), cached);
    return { answer: cached, scopeLength: match.scopeLength };
  }

  /** One number for (question, POP list): the chosen front-ends are a function of it and the client network. */
  private clientSlot(mark: DependsOnClient, pops: readonly string[]): number {
    let id = this.popListIds.get(pops);
    if (id === undefined) {
      id = this.popListIds.size;
      this.popListIds.set(pops, id);
    }
    return mark.id * this.popListSpace + id;
  }
}

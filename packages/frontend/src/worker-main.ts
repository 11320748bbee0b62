/** Entry point of a front-end cluster worker: the primary forks this file (see cluster-worker.ts). */
import { runFrontEndWorker } from './cluster-worker.js';

runFrontEndWorker();

// The argument that marks a process as the image worker (./normalize.ts forks it). Apart from
// normalize.ts so that the PATCH entry can check it without loading the pipeline.
export const WORKER_FLAG = '--selfcommunity-image-worker';

/** This process was started as the image worker. */
export const isImageWorker = (): boolean => process.argv[2] === WORKER_FLAG && process.send !== undefined;

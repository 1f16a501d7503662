export { readPickle } from './reader';
export { writePickle } from './writer';
export { PickledRunnerRequest } from './python-objects';

export { readPickle, type PickleReadOptions } from './reader';
export { writePickle, type PickleWriteOptions } from './writer';
export { PickledRunnerRequest, PYTHON_EXECUTION_OBJECT_MESSAGE } from './python-objects';

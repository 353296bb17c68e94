// Moved to tools/support/api-events.ts (what tests and bench share); kept only for
// test/package/template.test.ts's import until that file imports from there.
export * from '../tools/support/api-events.ts';

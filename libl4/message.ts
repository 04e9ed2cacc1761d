// The encodings of message words, in one import: message tags, fpages, map and grant items, the
// acceptor, timeouts and string items.
//
// Each encoding lives in its own file (one mechanism each, with its bit layout drawn at the top);
// this file only gathers them, so code that builds or takes apart messages imports from one place.

export * from './msg-tag.ts';
export * from './fpage.ts';
export * from './map-item.ts';
export * from './acceptor.ts';
export * from './timeout.ts';
export * from './string-item.ts';

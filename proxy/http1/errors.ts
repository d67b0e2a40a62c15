// Parse failures the proxy finds itself, shaped as llhttp's own (an Error with an HPE_* code), so
// that a ParseError is one thing whoever found it.

/** llhttp answered with a byte count it cannot have parsed: named as llhttp's internal error. */
export class ParserInternalError extends Error {
  readonly code = 'HPE_INTERNAL';
  constructor() {
    super('llhttp returned an impossible count');
    this.name = 'ParserInternalError';
  }
}

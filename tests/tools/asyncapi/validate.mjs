// Parse an AsyncAPI document with the AsyncAPI parser (what `asyncapi validate` runs) and print its
// diagnostics as JSON on stdout: [{"severity": "error"|"warning"|"information"|"hint", "code", "message", "path"}].
// Exit status 0 when the document parsed (it may still carry warnings), 1 when it did not.
import { Parser, fromFile } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'information', 'hint'];
const source = process.argv[2];
if (!source) {
  console.error('usage: node validate.mjs <asyncapi document>');
  process.exit(2);
}
const { document, diagnostics } = await fromFile(new Parser(), source).parse();
const out = diagnostics.map((d) => ({
  severity: SEVERITY[d.severity] ?? String(d.severity),
  code: String(d.code),
  message: d.message,
  path: d.path.join('/'),
}));
console.log(JSON.stringify({ parsed: Boolean(document), version: document?.version() ?? null, diagnostics: out }));
process.exit(document ? 0 : 1);

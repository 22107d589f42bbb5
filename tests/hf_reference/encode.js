// Reference encoder for the tokenizer parity test: HF's Rust `tokenizers` through its
// official Node binding. Reads JSONL {"text": ...} on stdin and writes
// {"ids": [...], "decoded": "..."} per line (encode without special tokens).
//   node encode.js path/to/tokenizer.json < in.jsonl > out.jsonl
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const tokenizer = Tokenizer.fromFile(process.argv[2]);
  const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
  const out = [];
  for (const line of lines) {
    const { text } = JSON.parse(line);
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const ids = encoding.getIds();
    const decoded = await tokenizer.decode(ids, false);
    out.push(JSON.stringify({ ids, decoded }));
  }
  fs.writeFileSync(1, out.join('\n') + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

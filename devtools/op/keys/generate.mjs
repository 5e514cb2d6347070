// One-off generator for the committed test signing keys (NOT used at runtime).
//   node devtools/op/keys/generate.mjs   -> rewrites jwks.json and jwks-rotated.json
// These are throw-away fixtures for the local test provider; never use them anywhere real.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

for (const [file, kid] of [['jwks.json', '301234567890123401'], ['jwks-rotated.json', '301234567890123402']]) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  writeFileSync(join(here, file), `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`);
  console.log(`wrote ${file} (kid ${kid})`);
}

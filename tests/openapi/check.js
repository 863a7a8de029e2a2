// Validates an OpenAPI document with @seriousme/openapi-schema-validator (the OpenAPI 3.1
// JSON Schema of the specification, and every $ref resolved). usage: node check.js FILE
"use strict";
const { Validator } = require("@seriousme/openapi-schema-validator");
const fs = require("fs");

async function main() {
  const file = process.argv[2];
  const spec = JSON.parse(fs.readFileSync(file, "utf8"));
  const v = new Validator();
  const res = await v.validate(spec);
  if (!res.valid) {
    console.error(`${file}: not a valid OpenAPI ${v.version} document`);
    console.error(JSON.stringify(res.errors, null, 2));
    process.exit(1);
  }
  if (v.version !== "3.1") {
    console.error(`${file}: OpenAPI ${v.version}, expected 3.1`);
    process.exit(1);
  }
  const resolved = v.resolveRefs();
  if (resolved === undefined || resolved === null) {
    console.error(`${file}: references do not resolve`);
    process.exit(1);
  }
  console.log(`${file}: valid OpenAPI ${v.version}`);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});

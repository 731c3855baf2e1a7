// Validate glb files with the Khronos glTF validator; print one JSON report per file (an array).
// Usage: node validate.js FILE.glb [FILE.glb ...]
const fs = require("fs");
const validator = require("gltf-validator");

async function main(files) {
  const reports = [];
  for (const file of files) {
    const data = new Uint8Array(fs.readFileSync(file));
    const report = await validator.validateBytes(data, { maxIssues: 100 });
    reports.push({ file, issues: report.issues });
  }
  process.stdout.write(JSON.stringify(reports));
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(2);
});

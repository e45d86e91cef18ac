// Runs the HTML detection vectors through the TypeScript guard helper template.
//
// Usage: node run_typescript.cjs TEMPLATE VECTORS
//
// Transpiles TEMPLATE (rules/templates/oauth-utils.ts) with the TypeScript pinned in
// tests/node (installed there by `npm ci`), evaluates it, reads VECTORS
// (fixtures/vectors/html-detection.json) and prints one JSON line per case:
// {"name": ..., "results": {"<entry point>": {"is_error_page": ..., "message": ...}, ...}},
// or {"name": ..., "error": "..."} when the helper threw. tests/html_vectors.rs compares every
// result with the case's expected value.
"use strict";

const fs = require("fs");
const path = require("path");
const vm = require("vm");

const ts = require(path.join(__dirname, "..", "node", "node_modules", "typescript"));

function loadTemplate(templatePath) {
  const source = fs.readFileSync(templatePath, "utf8");
  const output = ts.transpileModule(source, {
    fileName: templatePath,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, strict: true },
  });
  const problems = output.diagnostics || [];
  if (problems.length > 0) {
    const text = problems.map((problem) => ts.flattenDiagnosticMessageText(problem.messageText, "\n")).join("\n");
    throw new Error(`transpiling ${templatePath} failed:\n${text}`);
  }
  const module = { exports: {} };
  const wrapper = vm.runInThisContext(`(function (exports, require, module) {\n${output.outputText}\n})`, { filename: templatePath });
  wrapper(module.exports, require, module);
  return module.exports;
}

function asResult(check) {
  return { is_error_page: check.isHtml, message: check.message };
}

const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];

// A fetch Response for the case, or null when the Fetch standard cannot express it.
function fetchResponse(status, contentType, bytes) {
  if (status < 200 || status > 599) return null;
  const nullBody = NULL_BODY_STATUSES.includes(status);
  if (nullBody && bytes.length > 0) return null;
  const headers = new Headers();
  if (contentType !== null) headers.set("content-type", contentType);
  // A Uint8Array body adds no Content-Type of its own, unlike a string body.
  return new Response(nullBody ? null : bytes, { status, headers });
}

async function main() {
  const [templatePath, vectorsPath] = process.argv.slice(2);
  const template = loadTemplate(templatePath);
  const vectors = JSON.parse(fs.readFileSync(vectorsPath, "utf8"));
  for (const testCase of vectors.cases) {
    const name = testCase.name;
    let line;
    try {
      const bytes =
        testCase.body_base64 !== undefined
          ? new Uint8Array(Buffer.from(testCase.body_base64, "base64"))
          : new TextEncoder().encode(testCase.body);
      const { status, content_type: contentType } = testCase;
      const results = { "detectHtml(Uint8Array)": asResult(template.detectHtml(status, contentType, bytes)) };
      if (testCase.body !== undefined) {
        results["detectHtml(string)"] = asResult(template.detectHtml(status, contentType, testCase.body));
      }
      const response = fetchResponse(status, contentType, bytes);
      if (response !== null) {
        results["checkHtmlResponse(Response)"] = asResult(await template.checkHtmlResponse(response));
        // The helper reads a clone: the caller can still read the body, unchanged.
        const after = new Uint8Array(await response.arrayBuffer());
        if (Buffer.compare(Buffer.from(after), Buffer.from(bytes)) !== 0) {
          throw new Error("checkHtmlResponse changed or consumed the response body");
        }
      }
      line = { name, results };
    } catch (error) {
      line = { name, error: String(error && error.stack ? error.stack : error) };
    }
    process.stdout.write(JSON.stringify(line) + "\n");
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
});

// fast-check, for the property tests: a test tool, imported here by its full name rather than
// through deno.json's import map, so a project that uses lnstream never resolves (or downloads)
// it.
export { default } from "npm:fast-check@4.3.0";

/**
 * The output glob on its own: what each wildcard matches and what stays
 * literal, as documented in src/cluster/runner/glob.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePattern } from "../../src/cluster/runner/glob.js";

function check(pattern: string, yes: string[], no: string[]): void {
  const compiled = compilePattern(pattern);
  for (const path of yes) assert.ok(compiled.matches(path), `${pattern} should match ${path}`);
  for (const path of no) assert.ok(!compiled.matches(path), `${pattern} should not match ${path}`);
}

describe("output glob", () => {
  it("* stays inside one segment and matches dot names", () => {
    check("out/*.txt", ["out/a.txt", "out/.txt", "out/.hidden.txt"], ["out/a/b.txt", "a.txt"]);
  });

  it("? is one character, a whole code point", () => {
    check("?.bin", ["a.bin", "中.bin"], [".bin", "ab.bin"]);
  });

  it("** is zero or more segments, anywhere", () => {
    check("**/*.bin", ["x.bin", "a/x.bin", "a/b/c/x.bin"], ["x.bi"]);
    check("a/**/z", ["a/z", "a/b/z", "a/b/c/z"], ["z", "b/z", "a/zz"]);
    check("out/**", ["out/a", "out/a/b"], ["other/a"]);
    check("a/**/**/z", ["a/z", "a/b/c/z"], ["b/z"]);
  });

  it("treats other characters literally and drops ./", () => {
    check("[ab]{c}.(x)+\\", ["[ab]{c}.(x)+\\"], ["a{c}.(x)+\\"]);
    const plain = compilePattern("./out/./a.txt");
    assert.equal(plain.normal, "out/a.txt");
    assert.equal(plain.literal, true);
    assert.equal(compilePattern("out/*.txt").literal, false);
  });

  it("refuses patterns that could leave the sandbox or are empty", () => {
    for (const bad of ["", ".", "..", "../a", "a/../b", "/abs", "a//b", "a/", "a\0b"]) {
      assert.throws(() => compilePattern(bad), { code: "E_PATH_INVALID" }, JSON.stringify(bad));
    }
  });
});

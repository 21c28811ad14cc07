import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_NAME_TEMPLATE, renderName, validateTemplate } from "../../src/apk/index.js";
import { GamedockError } from "../../src/core/errors.js";

const values = {
  package: "com.example.game",
  versionName: "版本1.0",
  versionCode: "42",
  label: "My Game: Deluxe",
  channel: "huawei",
  mother: "game-release",
};

describe("name templates", () => {
  it("renders the default template", () => {
    validateTemplate(DEFAULT_NAME_TEMPLATE);
    assert.equal(renderName(DEFAULT_NAME_TEMPLATE, values), "com.example.game-版本1.0-huawei.apk");
  });

  it("renders every field and makes manifest values file-name safe", () => {
    const t = "{mother}_{label}_{versionCode}_{channel}.apk";
    validateTemplate(t);
    assert.equal(renderName(t, values), "game-release_My Game_ Deluxe_42_huawei.apk");
  });

  it("refuses unknown fields, naming the field and the known ones", () => {
    assert.throws(
      () => {
        validateTemplate("{package}-{flavor}.apk");
      },
      (err: unknown) => {
        return (
          err instanceof GamedockError &&
          err.code === "E_TEMPLATE_FIELD" &&
          err.message.includes("{flavor}") &&
          err.message.includes("{versionName}")
        );
      },
    );
    assert.throws(() => {
      validateTemplate("{package.apk");
    }, /unmatched/);
  });

  it("refuses path separators in the template", () => {
    assert.throws(
      () => {
        validateTemplate("out/{channel}.apk");
      },
      (err: unknown) => {
        return err instanceof GamedockError && err.code === "E_OUTPUT_NAME";
      },
    );
  });
});

describe("name length", () => {
  it("refuses names over 255 bytes, saying so", () => {
    assert.throws(
      () => renderName("{channel}{channel}.apk", { ...values, channel: "渠".repeat(50) }),
      (err: unknown) =>
        err instanceof GamedockError && /304 bytes, over the 255-byte/.test(err.message),
    );
  });
});

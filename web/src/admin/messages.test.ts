import { describe, expect, it } from "vitest";
import { describeError } from "./messages";

describe("describeError", () => {
  it("says forbidden as a sentence", () => {
    expect(describeError({ status: 403, code: "forbidden", message: "this needs one of the roles: admin, trader" })).toBe(
      "Your role may not do this. Ask an admin if you need it.",
    );
  });
  it("keeps the API's message and code for other refusals", () => {
    expect(describeError({ status: 409, code: "invalid_status_transition", message: "an ended event cannot go live" })).toBe(
      "An ended event cannot go live. (invalid_status_transition)",
    );
  });
});

// Every test file: Tauri's IPC and the two plugins are replaced by the fake backend.
import { afterEach, beforeEach, vi } from "vitest";
import { resetBackend } from "./backend";

vi.mock("@tauri-apps/api/core", async () => {
  const b = await import("./backend");
  return { invoke: b.invoke, Channel: b.FakeChannel };
});
vi.mock("@tauri-apps/plugin-clipboard-manager", async () => ({ writeText: (await import("./backend")).writeText }));
vi.mock("@tauri-apps/plugin-opener", async () => ({ openUrl: (await import("./backend")).openUrl }));

beforeEach(() => {
  resetBackend();
});

afterEach(() => {
  vi.useRealTimers();
});

// DOM shortcuts for the component tests.
import { fireEvent, render, screen } from "@testing-library/svelte";
import type { Component } from "svelte";
import { tick } from "svelte";
import { vi } from "vitest";
import type { AppInfo } from "../src/gen/ipc";
import { Wizard, type Mode, type StepId } from "../src/lib/wizard.svelte";
import { APP_INFO, INSTANCE_SET } from "./fixtures";

export function el<T extends HTMLElement = HTMLElement>(testid: string): T {
  return screen.getByTestId(testid) as T;
}

export function has(testid: string): boolean {
  return screen.queryByTestId(testid) !== null;
}

export function text(testid: string): string {
  return (el(testid).textContent ?? "").replace(/\s+/g, " ").trim();
}

/** Let pending promises (fake IPC answers) settle and Svelte update the DOM. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await tick();
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await tick();
}

export async function type(testid: string, value: string): Promise<void> {
  await fireEvent.input(el<HTMLInputElement>(testid), { target: { value } });
}

export async function choose(testid: string, value: string): Promise<void> {
  await fireEvent.change(el<HTMLSelectElement>(testid), { target: { value } });
}

export async function click(testid: string): Promise<void> {
  const b = el<HTMLButtonElement>(testid);
  if (b.disabled) throw new Error(`${testid} is disabled`);
  await fireEvent.click(b);
  await flush();
}

export async function until(fn: () => void): Promise<void> {
  await vi.waitFor(fn, { timeout: 2000, interval: 10 });
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A wizard in `mode` at `step`, with an accepted instance (admin held unless told otherwise). */
export function wizardAt(step: StepId, opts: { mode?: Mode; app?: AppInfo; admin?: boolean } = {}): Wizard {
  const w = new Wizard(opts.app ?? APP_INFO);
  w.begin(opts.mode ?? "migrate");
  if (step !== "instance") {
    const admin = opts.admin ?? true;
    w.instanceAccepted({ ...INSTANCE_SET, has_admin: admin, admin_username: admin ? "admin" : null });
  }
  w.go(step);
  return w;
}

export function renderScreen(screenComponent: Component<{ w: Wizard }>, w: Wizard): ReturnType<typeof render> {
  return render(screenComponent, { props: { w } });
}

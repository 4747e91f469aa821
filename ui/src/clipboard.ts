// Clipboard through the Tauri plugin (the webview's own clipboard API is unreliable in WebKitGTK).
import { writeText } from "@tauri-apps/plugin-clipboard-manager";
import { toIpcError, type IpcError } from "./ipc";

export async function copyText(text: string): Promise<IpcError | null> {
  try {
    await writeText(text);
    return null;
  } catch (e) {
    return toIpcError(e);
  }
}

/** The webview's side of the protocol: typed requests with promises, checked responses and events. */
import {
  parseHostMessage, parseResult, type Args, type HostEvent, type Method, type Result, type WebviewMessage,
} from '../src/shared/protocol';

interface Pending { method: Method; resolve: (v: unknown) => void; reject: (e: Error) => void }

export interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState<T>(state: T): T;
}

export class Rpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Messages rejected by validation (for diagnostics and tests). */
  rejected = 0;

  constructor(private readonly api: VsCodeApi, private readonly onEvent: (e: HostEvent) => void) {
    window.addEventListener('message', (ev: MessageEvent) => this.receive(ev.data));
  }

  send(m: WebviewMessage): void {
    this.api.postMessage(m);
  }

  request<M extends Method>(method: M, args: Args<M>): Promise<Result<M>> {
    const requestId = this.nextId++;
    return new Promise<Result<M>>((resolve, reject) => {
      this.pending.set(requestId, { method, resolve: resolve as (v: unknown) => void, reject });
      this.send({ type: 'request', requestId, method, args } as WebviewMessage);
    });
  }

  /** Fails every outstanding request (the data source changed under them). */
  cancelAll(): void {
    for (const p of this.pending.values()) {
      p.reject(new Error('cancelled'));
    }
    this.pending.clear();
  }

  private receive(data: unknown): void {
    const m = parseHostMessage(data);
    if (!m.ok) {
      this.rejected++;
      document.body.dataset.rejected = String(this.rejected);
      console.warn(`xpl visualizer: rejected a message from the host: ${m.error}`);
      return;
    }
    const msg = m.value;
    if (msg.type !== 'response') {
      this.onEvent(msg);
      return;
    }
    const p = this.pending.get(msg.inReplyTo);
    if (!p) {
      return;
    }
    this.pending.delete(msg.inReplyTo);
    if (!msg.ok) {
      p.reject(new Error(msg.error));
      return;
    }
    const r = parseResult(p.method, msg.result);
    if (!r.ok) {
      this.rejected++;
      document.body.dataset.rejected = String(this.rejected);
      p.reject(new Error(`bad ${p.method} result: ${r.error}`));
      return;
    }
    p.resolve(r.value);
  }
}

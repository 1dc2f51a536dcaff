// Streams over one link: ids, per-stream credit windows, half-close and reset.
// No I/O: the link feeds received messages in with receive() and pulls
// outgoing messages with takeMessage() at the pace its socket allows.

import { ProtocolError } from "../errors.ts";
import { Deque } from "../core/deque.ts";
import {
  decodeFrames,
  decodeReason,
  decodeU32,
  EMPTY,
  encodeReason,
  encodeU32,
  type Frame,
  FrameType,
  frameTypeName,
  MAX_MESSAGE_BYTES,
  FRAME_HEADER_BYTES,
  writeFrame,
} from "../protocol/frames.ts";
import { decodeOpen, encodeOpen, type Open, ResetCode, resetCodeName } from "../protocol/messages.ts";

export interface MuxOptions {
  /** The dialer of the link opens odd stream ids, the acceptor even ones, so ids never collide. */
  role: "dialer" | "acceptor";
  /**
   * How many bytes each stream may have in flight towards us (our receive
   * window) at first. It grows up to MAX_WINDOW_GROWTH times this while the
   * stream's reader keeps up (MuxStream.consumed()), within what the link's
   * streams may grow by together (LINK_WINDOW_GROWTH).
   */
  windowBytes: number;
  /** How many concurrent streams we accept from the peer. */
  maxStreams: number;
  /** Frames are waiting; call takeMessage() until it returns undefined. */
  onOutput(): void;
  /** The peer opened a stream. Set its handlers now or later; data is held until then. */
  onStream(stream: MuxStream, open: Open): void;
  /** A control frame (Hello, Ping, Pong, Close, Advert) arrived. */
  onControl(type: FrameType, payload: Uint8Array): void;
}

export interface StreamHandlers {
  /** Bytes from the peer. Call `stream.consumed(n)` once they have left this process. */
  data(chunk: Uint8Array): void;
  /** The peer will send no more data (half-close). */
  end(): void;
  /** After write() returned false: the stream can take more. */
  drain(): void;
  /** The stream was reset by the peer or because the link went down. Final. */
  reset(code: number, reason: string): void;
  /** The far end reached its server (streams we opened only). */
  accepted?(): void;
}

/** Bytes a message buffer has beyond its message, for alignmentLead(). */
const ALIGNMENT_ROOM = 16;

/** A buffer of this size takes any message of up to MAX_MESSAGE_BYTES (takeMessage's `spare`). */
export const SPARE_MESSAGE_BYTES = MAX_MESSAGE_BYTES + ALIGNMENT_ROOM;

/**
 * Bytes to leave in front of a new message so that its largest payload lands
 * at the same offset modulo 16 as in its source buffer. Bun copies 64 KiB in
 * 1.3 us between mutually aligned addresses and in 19 us otherwise; Node
 * copies fast either way. Assumes buffers start 16-byte aligned, as large ones do.
 */
function alignmentLead(picked: readonly QueuedFrame[]): number {
  let offset = 0;
  let largest = 0;
  let lead = 0;
  for (const frame of picked) {
    if (frame.type !== CONTINUATION) offset += FRAME_HEADER_BYTES;
    if (frame.payload.byteLength > largest) {
      largest = frame.payload.byteLength;
      lead = (((frame.payload.byteOffset - offset) % 16) + 16) % 16;
    }
    offset += frame.payload.byteLength;
  }
  return lead;
}

/**
 * Data bytes of streams paced to the link (MuxStream.paceToLink) queued for
 * it, beyond which those streams are asked to wait: write() returns false,
 * and `drain` comes once they are down to half. Credit alone lets every
 * stream queue its whole window here, and with 8 streams a sending site held
 * up to 32 MiB of TCP reads waiting for the link. Reads that wait that long
 * outlive V8's young generation, and a Deno site sending 8 streams then spent
 * 0.3-0.5 CPU-s/GiB in full collections (docs/benchmarks.md). The link's
 * socket keeps its own few MiB in flight. Bytes of streams that are not paced
 * (relays) do not count: credit bounds them, and counting them would let a
 * busy relay hold the site's own connections back for as long as it is busy.
 */
export const QUEUED_DATA_HIGH_WATER = 2 * 1024 * 1024;

/** Smallest piece a Data frame is split into to fill a message. */
const MIN_SPLIT_BYTES = 512;
/** In takeMessage() only: this payload continues the Data frame before it (no header of its own). */
const CONTINUATION = -1 as FrameType;

/**
 * How far takeMessage() looks down the queue for the next Data frame of a
 * stream whose frame it split (see carryTail). Streams that take turns sit a
 * few frames apart; the bound keeps a long queue of other streams cheap.
 */
const CARRY_LOOKAHEAD = 64;

interface QueuedFrame {
  type: FrameType;
  stream: MuxStream | undefined;
  streamId: number;
  payload: Uint8Array;
  /**
   * Data frames only: the rest of this stream's previous Data frame, split to
   * fill a message and sent first, as part of this frame (see carryTail).
   */
  carried?: Uint8Array;
  /** A Data frame of a stream paced to the link: its bytes count towards QUEUED_DATA_HIGH_WATER. */
  paced?: boolean;
}

/** Payload bytes a queued frame sends: what it carries and its own. */
function queuedBytes(frame: QueuedFrame): number {
  return frame.carried === undefined ? frame.payload.byteLength : frame.carried.byteLength + frame.payload.byteLength;
}

/**
 * Move the first `count` payload bytes of Data frame `frame` to `picked`, as
 * a frame of their own or continuing the frame before (`continues`), and leave
 * the rest in `frame`.
 */
function pickData(picked: QueuedFrame[], frame: QueuedFrame, count: number, continues: boolean): void {
  let type = continues ? CONTINUATION : frame.type;
  const carried = frame.carried;
  if (carried !== undefined) {
    const taken = Math.min(count, carried.byteLength);
    picked.push({ type, stream: frame.stream, streamId: frame.streamId, payload: carried.subarray(0, taken) });
    frame.carried = taken < carried.byteLength ? carried.subarray(taken) : undefined;
    count -= taken;
    type = CONTINUATION;
  }
  if (count === 0) return;
  picked.push({ type, stream: frame.stream, streamId: frame.streamId, payload: frame.payload.subarray(0, count) });
  frame.payload = frame.payload.subarray(count);
}

/**
 * `split`, first in `queue`, has just had a message's worth taken from it.
 * When the same stream has another Data frame further down, the rest goes
 * with that frame instead of waiting alone at the front.
 *
 * Why: a 64 KiB TCP read is a frame 9 bytes larger than a message. With one
 * stream the rest joins the stream's next frame in the next message anyway.
 * With several taking turns it went out in front of the next stream's frame,
 * which was split in turn, and the far site wrote those bytes to their socket
 * in pieces of a few bytes. On a Node link carrying 8 streams, messages held
 * 1.3 Data frames on average, 1.2 now: the rest is carried only when the
 * stream's next read is queued already.
 */
function carryTail(queue: Deque<QueuedFrame>, split: QueuedFrame): void {
  if (split.carried !== undefined) return; // the rest begins inside what it carries: leave it first in line
  for (let i = 1; i <= CARRY_LOOKAHEAD; i++) {
    const later = queue.at(i);
    if (later === undefined) return;
    if (later.streamId !== split.streamId) continue;
    if (later.type !== FrameType.Data || later.carried !== undefined || later.paced !== split.paced) return;
    later.carried = split.payload;
    queue.shift();
    return;
  }
}

export interface MuxCounters {
  streamsOpened: number;
  streamsAccepted: number;
  streamsRefused: number;
  bytesSent: number;
  bytesReceived: number;
}

export class Mux {
  readonly #options: MuxOptions;
  readonly #streams = new Map<number, MuxStream>();
  /** Control frames go first; stream frames keep their order among themselves. */
  readonly #urgent = new Deque<QueuedFrame>();
  readonly #ordered = new Deque<QueuedFrame>();
  #nextLocalId: number;
  #highestLocalId = 0;
  #highestPeerId = 0;
  #peerWindow = 0;
  #peerMaxStreams = 0;
  #localStreams = 0;
  #aborted: string | undefined;
  #outputScheduled = false;
  /** Payload bytes of the paced Data frames in #ordered. */
  #pacedQueued = 0;
  /** Bytes by which the receive windows of this link's streams have grown past the announced window, together. */
  #windowGrowth = 0;
  /** Streams told to wait while the queue was over QUEUED_DATA_HIGH_WATER, in the order they were told. */
  readonly #waitingForRoom = new Set<MuxStream>();
  #roomScheduled = false;
  /** Scratch list for takeMessage(), reused. */
  readonly #picked: QueuedFrame[] = [];
  /** Bytes written to this link's streams and waiting for credit, all streams together. */
  #waitingForCredit = 0;
  readonly counters: MuxCounters = { streamsOpened: 0, streamsAccepted: 0, streamsRefused: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(options: MuxOptions) {
    this.#options = options;
    this.#nextLocalId = options.role === "dialer" ? 1 : 2;
  }

  get windowBytes(): number {
    return this.#options.windowBytes;
  }

  /** Receive window of a new stream: where it starts, and how far it may grow. */
  get #receiveWindow(): { initial: number; max: number } {
    const initial = this.#options.windowBytes;
    return { initial, max: MAX_WINDOW_GROWTH * initial };
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /**
   * Bytes written to this link's streams and still waiting for the peer's
   * credit, all streams together: kept as they change, so a site can ask for
   * every link at each new connection without visiting every stream.
   */
  get pendingBytes(): number {
    return this.#waitingForCredit;
  }

  /** Limits the peer announced in its Hello; streams cannot be opened before. */
  setPeerLimits(windowBytes: number, maxStreams: number): void {
    this.#peerWindow = windowBytes;
    this.#peerMaxStreams = maxStreams;
  }

  /** Open a stream to the peer. Data may be written at once; it flows as credit allows. */
  openStream(open: Open): MuxStream {
    if (this.#aborted !== undefined) throw new ProtocolError(`link is closed: ${this.#aborted}`);
    if (this.#peerWindow === 0) throw new Error("openStream() before the peer's Hello");
    if (this.#localStreams >= this.#peerMaxStreams) {
      throw new StreamLimitError(`the peer accepts at most ${this.#peerMaxStreams} streams on this link`);
    }
    const id = this.#nextLocalId;
    if (id > 0xffff_fffe) throw new StreamLimitError("stream ids on this link are exhausted; reconnect the link");
    this.#nextLocalId += 2;
    this.#highestLocalId = id;
    const stream = new MuxStream(this, id, true, this.#peerWindow, this.#receiveWindow);
    this.#streams.set(id, stream);
    this.#localStreams++;
    this.counters.streamsOpened++;
    this.enqueue(FrameType.Open, stream, encodeOpen(open), false);
    return stream;
  }

  /** Queue a control frame on stream 0. */
  sendControl(type: FrameType, payload: Uint8Array): void {
    if (this.#aborted !== undefined) return;
    this.#urgent.push({ type, stream: undefined, streamId: 0, payload });
    this.#scheduleOutput();
  }

  /** Data bytes of streams paced to the link, queued and not yet taken by takeMessage(). */
  get pacedBytesQueued(): number {
    return this.#pacedQueued;
  }

  /** True while frames are waiting for takeMessage(). */
  get hasOutput(): boolean {
    return this.#urgent.size > 0 || this.#ordered.size > 0;
  }

  /**
   * The next link message: as many queued frames as fit in `maxBytes`.
   * Frames of streams reset meanwhile are dropped here. A Data frame that does
   * not fit is split to fill the message, and Data frames of one stream that
   * follow each other become one frame, so bulk data travels in full 64 KiB
   * records with one frame each (a 64 KiB TCP read no longer costs a second,
   * 9-byte record for the bytes past the frame header).
   *
   * The message is written into `spare` when it fits there (see SPARE_MESSAGE_BYTES),
   * else into a new buffer; every byte of the returned view is written either way.
   */
  takeMessage(maxBytes: number = MAX_MESSAGE_BYTES, spare?: ArrayBuffer): Uint8Array<ArrayBuffer> | undefined {
    const picked = this.#picked;
    let size = 0;
    /** Stream of the Data frame that ends the message so far (the next Data frame of that stream extends it), or -1. */
    let lastData = -1;
    for (let q = 0; q < 2; q++) {
      const queue = q === 0 ? this.#urgent : this.#ordered;
      for (let next = queue.peek(); next !== undefined; next = queue.peek()) {
        if (next.stream !== undefined && next.stream.resetSent && next.type !== FrameType.Reset) {
          queue.shift();
          if (next.paced) this.#pacedQueued -= queuedBytes(next);
          continue;
        }
        const extends_ = next.type === FrameType.Data && lastData === next.streamId;
        const overhead = extends_ ? 0 : FRAME_HEADER_BYTES;
        const room = maxBytes - size - overhead;
        const bytes = queuedBytes(next);
        if (bytes > room) {
          // Split a Data frame to fill the message when a useful piece fits; the rest stays
          // first in line, or goes with the stream's next Data frame (carryTail).
          if (next.type !== FrameType.Data || room < MIN_SPLIT_BYTES) break;
          pickData(picked, next, room, extends_);
          if (next.paced) this.#pacedQueued -= room;
          size += overhead + room;
          carryTail(queue, next);
          break;
        }
        queue.shift();
        if (next.carried !== undefined) pickData(picked, next, bytes, extends_);
        else if (extends_) picked.push({ ...next, type: CONTINUATION });
        else picked.push(next);
        if (next.paced) this.#pacedQueued -= bytes;
        lastData = next.type === FrameType.Data ? next.streamId : -1;
        size += overhead + bytes;
      }
      if (size >= maxBytes - 64) break;
    }
    if (picked.length === 0) return undefined;
    const lead = alignmentLead(picked);
    // Room for any lead (under 16), so that one buffer can take every message up to its size less 16.
    const buffer = spare !== undefined && spare.byteLength >= lead + size ? spare : new ArrayBuffer(size + ALIGNMENT_ROOM);
    const message = new Uint8Array(buffer, lead, size);
    const view = new DataView(message.buffer, message.byteOffset);
    let offset = 0;
    let header = -1;
    for (let i = 0; i < picked.length; i++) {
      const frame = picked[i]!;
      if (frame.type === CONTINUATION) {
        // Extend the Data frame just written: its payload continues here.
        message.set(frame.payload, offset);
        offset += frame.payload.byteLength;
        view.setUint32(header + 5, offset - header - FRAME_HEADER_BYTES);
        this.counters.bytesSent += frame.payload.byteLength;
        continue;
      }
      header = offset;
      offset = writeFrame(message, offset, frame.type, frame.streamId, frame.payload);
      if (frame.type === FrameType.Data) this.counters.bytesSent += frame.payload.byteLength;
    }
    picked.length = 0;
    if (this.#waitingForRoom.size > 0 && this.#pacedQueued <= QUEUED_DATA_HIGH_WATER / 2) this.#scheduleRoom();
    return message;
  }

  /** Handle one link message from the peer. Throws ProtocolError when the peer broke the protocol. */
  receive(message: Uint8Array): void {
    if (this.#aborted !== undefined) return;
    decodeFrames(message, (frame) => this.#receiveFrame(frame));
  }

  /** The link is gone: reset every stream locally. Idempotent. */
  abort(reason: string): void {
    if (this.#aborted !== undefined) return;
    this.#aborted = reason;
    this.#urgent.clear();
    this.#ordered.clear();
    this.#pacedQueued = 0;
    this.#waitingForRoom.clear();
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of streams) stream.resetLocally(ResetCode.LinkLost, `link lost: ${reason}`);
  }

  // ---- used by MuxStream ----

  /** @internal */
  enqueue(type: FrameType, stream: MuxStream, payload: Uint8Array, urgent: boolean): void {
    if (this.#aborted !== undefined) return;
    const paced = type === FrameType.Data && stream.pacedToLink;
    (urgent ? this.#urgent : this.#ordered).push({ type, stream, streamId: stream.id, payload, paced });
    if (paced) this.#pacedQueued += payload.byteLength;
    this.#scheduleOutput();
  }

  /** @internal True while streams paced to the link have QUEUED_DATA_HIGH_WATER bytes queued. */
  get congested(): boolean {
    return this.#pacedQueued >= QUEUED_DATA_HIGH_WATER;
  }

  /** @internal `stream` waits for room in the link's queue; it hears of it through MuxStream.roomOnLink(). */
  waitForRoom(stream: MuxStream): void {
    this.#waitingForRoom.add(stream);
  }

  /** @internal A stream's window may grow by `wanted` bytes: how much of it the link's budget allows. */
  growWindow(wanted: number): number {
    const granted = Math.min(wanted, LINK_WINDOW_GROWTH * this.#options.windowBytes - this.#windowGrowth);
    this.#windowGrowth += granted;
    return granted;
  }

  /** @internal A stream's window shrank by `bytes`, or the stream ended grown by that much. */
  shrinkWindow(bytes: number): void {
    this.#windowGrowth -= bytes;
  }

  /** @internal A stream's bytes waiting for credit changed by `delta`. */
  notePending(delta: number): void {
    this.#waitingForCredit += delta;
  }

  /** @internal */
  forget(stream: MuxStream): void {
    this.#waitingForRoom.delete(stream);
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    if (stream.locallyOpened) this.#localStreams--;
  }

  #scheduleOutput(): void {
    // Many frames are often queued in one turn (a read, a batch of credits):
    // tell the link once, after the turn, so it can pack them into few messages.
    if (this.#outputScheduled) return;
    this.#outputScheduled = true;
    queueMicrotask(() => {
      this.#outputScheduled = false;
      if (this.hasOutput) this.#options.onOutput();
    });
  }

  /**
   * Tell the waiting streams there is room, after the current call: their
   * drain handlers may write at once, and takeMessage() must have returned
   * its message by then.
   */
  #scheduleRoom(): void {
    if (this.#roomScheduled) return;
    this.#roomScheduled = true;
    queueMicrotask(() => {
      this.#roomScheduled = false;
      const waiting = [...this.#waitingForRoom];
      this.#waitingForRoom.clear();
      for (const stream of waiting) stream.roomOnLink();
    });
  }

  #receiveFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Hello:
      case FrameType.Ping:
      case FrameType.Pong:
      case FrameType.Close:
      case FrameType.Advert:
      case FrameType.CertRequest:
      case FrameType.CertIssued:
        this.#options.onControl(frame.type, frame.payload);
        return;
      case FrameType.Open:
        this.#receiveOpen(frame);
        return;
    }
    const stream = this.#streams.get(frame.stream);
    if (stream === undefined) {
      if (this.#wasOpened(frame.stream)) return; // a frame that crossed our reset or close: harmless
      throw new ProtocolError(`${frameTypeName(frame.type)} frame for stream ${frame.stream}, which was never opened`);
    }
    switch (frame.type) {
      case FrameType.Data:
        this.counters.bytesReceived += frame.payload.byteLength;
        stream.receiveData(frame.payload);
        return;
      case FrameType.Credit:
        stream.receiveCredit(decodeU32(frame.payload));
        return;
      case FrameType.Fin:
        stream.receiveFin();
        return;
      case FrameType.Accept:
        if (!stream.locallyOpened) throw new ProtocolError(`Accept frame for stream ${frame.stream}, which the peer opened`);
        stream.receiveAccept();
        return;
      case FrameType.Reset: {
        const { code, reason } = decodeReason(frame.payload);
        this.forget(stream);
        stream.resetLocally(code, reason);
        return;
      }
    }
  }

  #receiveOpen(frame: Frame): void {
    const id = frame.stream;
    const peerParity = this.#options.role === "dialer" ? 0 : 1;
    if (id % 2 !== peerParity) throw new ProtocolError(`peer opened stream ${id}, which has our parity`);
    if (id <= this.#highestPeerId) throw new ProtocolError(`peer reopened stream ${id} (ids must increase)`);
    if (this.#peerWindow === 0) throw new ProtocolError("Open frame before Hello");
    this.#highestPeerId = id;
    const open = decodeOpen(frame.payload);
    const stream = new MuxStream(this, id, false, this.#peerWindow, this.#receiveWindow);
    if (this.#streams.size - this.#localStreams >= this.#options.maxStreams) {
      this.counters.streamsRefused++;
      stream.reset(ResetCode.Limit, `stream limit reached: this link accepts at most ${this.#options.maxStreams} streams`);
      return;
    }
    this.#streams.set(id, stream);
    this.counters.streamsAccepted++;
    this.#options.onStream(stream, open);
  }

  #wasOpened(id: number): boolean {
    const peerParity = this.#options.role === "dialer" ? 0 : 1;
    return id % 2 === peerParity ? id <= this.#highestPeerId : id <= this.#highestLocalId;
  }
}

/** Raised by openStream() when the peer's stream limit is reached. */
export class StreamLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StreamLimitError";
  }
}

const MAX_CREDIT = 0x7fff_ffff;
/**
 * A stream's receive window grows to at most this many times the announced
 * window (16 MiB by default). Bytes queued on the way count against a
 * stream's credit: up to 4 MiB in the sending site's link socket (above
 * the kernel's buffers) and the records a busy relay has yet to open. With
 * at most 4 MiB one Node stream through two hops ran out of credit while
 * every site kept up, and the relay's window kept shrinking and growing
 * again: 225-264 MiB/s, against 269-317 with 16 MiB (docs/benchmarks.md).
 */
export const MAX_WINDOW_GROWTH = 16;
/**
 * How much the windows of one link's streams may grow by together, in
 * announced windows: one stream alone reaches MAX_WINDOW_GROWTH, and eight
 * busy streams share the growth instead of each holding 16 windows' worth.
 */
export const LINK_WINDOW_GROWTH = MAX_WINDOW_GROWTH - 1;
/**
 * Windows' worth of bytes a stream must pass straight on before its window
 * grows: more than loopback's socket buffers (4 MiB to send, 6 MiB to
 * receive) take from a reader that then turns out to be slow.
 */
export const GROW_AFTER_WINDOWS = 16;
/**
 * The window shrinks once LATE_CREDITS_TO_SHRINK of the last LATE_CREDITS_SEEN
 * credits were for bytes the reader took late. A busy site passes one
 * credit's bytes on late now and then (a burst of records to open, the next
 * hop's credit a turn late): 3-4 percent of credits on two hops through Deno,
 * which ran at 184-205 MiB/s while each of those halved the window and
 * restarted its growth, and at 205-224 with this rule. A slow reader's socket
 * takes some bytes at once and pushes back on others: every third credit or
 * so is late, never two in a row, so a run of late credits would miss it
 * (its site's RSS then grew by 65-82 MiB during the slow-reader benchmark,
 * against 58-74 with this rule).
 */
export const LATE_CREDITS_TO_SHRINK = 3;
export const LATE_CREDITS_SEEN = 8;

export class MuxStream {
  readonly id: number;
  readonly locallyOpened: boolean;
  readonly #mux: Mux;
  /** Our receive window: it starts at the size we announced, and moves with the reader (#resize). */
  #window: number;
  readonly #initialWindow: number;
  readonly #maxWindow: number;
  #handlers: StreamHandlers | undefined;
  /** Bytes the peer still lets us send. */
  #sendCredit: number;
  readonly #pending = new Deque<Uint8Array>();
  #pendingBytes = 0;
  #needDrain = false;
  #endRequested = false;
  #finSent = false;
  #finReceived = false;
  /** Bytes the peer may still send us before it needs more credit. */
  #recvAllowance: number;
  /** Bytes consumed by the application and not yet credited back. */
  #unacked = 0;
  /** True while a Data frame's handler runs: consumed() then means the bytes went straight on. */
  #delivering = false;
  /** Some of the bytes in #unacked were consumed later than they arrived: the reader pushed back. */
  #lagged = false;
  /** Bytes passed straight on since the reader last pushed back. */
  #promptBytes = 0;
  /** One bit per recent credit, newest lowest: set when the reader took its bytes late. */
  #lateCredits = 0;
  /** Data (and the end) held until handlers are set. */
  #inbox: Deque<Uint8Array> | undefined = new Deque<Uint8Array>();
  #inboxBytes = 0;
  #inboxEnd = false;
  #accepted = false;
  #lateReset: { code: number; reason: string } | undefined;
  /** Writers wait for room in the link's queue as well as for credit (paceToLink). */
  #pacedToLink = false;
  resetSent = false;
  #done = false;

  constructor(mux: Mux, id: number, locallyOpened: boolean, sendCredit: number, window: { initial: number; max: number }) {
    this.#mux = mux;
    this.id = id;
    this.locallyOpened = locallyOpened;
    this.#sendCredit = sendCredit;
    this.#window = window.initial;
    this.#initialWindow = window.initial;
    this.#maxWindow = window.max;
    this.#recvAllowance = window.initial;
  }

  /** The current receive window (bytes). */
  get windowBytes(): number {
    return this.#window;
  }

  /** True once reset or both directions have ended. */
  get isDone(): boolean {
    return this.#done;
  }

  /** Bytes written but still waiting for credit. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Bytes received before handlers were set, held until then. */
  get heldBytes(): number {
    return this.#inboxBytes;
  }

  setHandlers(handlers: StreamHandlers): void {
    this.#handlers = handlers;
    const inbox = this.#inbox;
    this.#inbox = undefined;
    this.#inboxBytes = 0;
    if (this.#accepted) handlers.accepted?.();
    if (inbox !== undefined) {
      for (let chunk = inbox.shift(); chunk !== undefined; chunk = inbox.shift()) handlers.data(chunk);
    }
    if (this.#inboxEnd) handlers.end();
    const lateReset = this.#lateReset;
    if (lateReset !== undefined) {
      this.#lateReset = undefined;
      handlers.reset(lateReset.code, lateReset.reason);
    }
  }

  /**
   * From now on write() also asks the writer to wait while the paced streams
   * of the link have QUEUED_DATA_HIGH_WATER bytes queued for it, not only
   * when credit runs out. For writers that read from a socket they can pause
   * at no cost. A stream relaying another stream is better left to credit:
   * its bytes are in memory already, and holding them back delays the credit
   * of the stream they came from, whose window then shrinks (two Bun hops
   * carried 8 streams 3-5 % slower when relays waited for the queue).
   */
  paceToLink(): void {
    this.#pacedToLink = true;
  }

  /** @internal */
  get pacedToLink(): boolean {
    return this.#pacedToLink;
  }

  /**
   * Send bytes. Returns false when the caller should wait for `drain`: the
   * bytes were accepted, but the peer's window is used up or, for a stream
   * paced to its link, the link's queue is full.
   */
  write(chunk: Uint8Array): boolean {
    if (this.#done || this.#endRequested) return false;
    if (chunk.byteLength > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.byteLength;
      this.#mux.notePending(chunk.byteLength);
      this.#flush();
    }
    const hasCredit = this.#pendingBytes === 0 && this.#sendCredit > 0;
    if (hasCredit && !this.#waitsForLink) return true;
    this.#needDrain = true;
    if (hasCredit) this.#mux.waitForRoom(this);
    return false;
  }

  /** Half-close: no more data from us. The peer can keep sending. */
  end(): void {
    if (this.#done || this.#endRequested) return;
    this.#endRequested = true;
    this.#flush();
  }

  /** Tell the peer the far server was reached (streams the peer opened). */
  accept(): void {
    if (this.#done || this.locallyOpened) return;
    this.#mux.enqueue(FrameType.Accept, this, EMPTY, false);
  }

  /** Abort the stream in both directions, telling the peer why. Idempotent. */
  reset(code: number, reason: string): void {
    if (this.#done) return;
    this.#finish();
    this.resetSent = true;
    this.#mux.enqueue(FrameType.Reset, this, encodeReason(code, reason), true);
  }

  /**
   * The application delivered `bytes` received bytes onwards: the peer may send that many more.
   * Call it from the `data` handler when the bytes went straight on, later when they had to wait.
   */
  consumed(bytes: number): void {
    if (this.#done || this.#finReceived) return;
    if (!this.#delivering) this.#lagged = true;
    this.#unacked += bytes;
    if (this.#unacked >= this.#window / 4) {
      const grant = this.#unacked + this.#resize();
      this.#unacked = 0;
      if (grant === 0) return;
      this.#recvAllowance += grant;
      this.#mux.enqueue(FrameType.Credit, this, encodeU32(grant), true);
    }
  }

  /**
   * How much to change the window by with the next credit (never more than
   * is being credited). Once GROW_AFTER_WINDOWS windows in a row have gone
   * straight on, the window doubles with each credit, up to its maximum and
   * as far as the link's streams have growth left (LINK_WINDOW_GROWTH): a
   * site that shares its cores answers late now and then, and one stream
   * through busy sites ran 25-30 percent faster with 4 MiB of window than
   * with 1 MiB (docs/benchmarks.md). The wait keeps slow readers out: their
   * socket buffers take the first megabytes at once, then push back. When
   * the reader keeps pushing back (LATE_CREDITS_TO_SHRINK), the window
   * halves towards where it started, by crediting less than was consumed.
   */
  #resize(): number {
    const lagged = this.#lagged;
    this.#lagged = false;
    this.#lateCredits = ((this.#lateCredits << 1) | (lagged ? 1 : 0)) & ((1 << LATE_CREDITS_SEEN) - 1);
    if (lagged) {
      // One late credit among prompt ones is a site that was busy for a moment.
      if (bitCount(this.#lateCredits) < LATE_CREDITS_TO_SHRINK) return 0;
      this.#promptBytes = 0;
      const shrink = Math.min(Math.floor(this.#window / 2), this.#window - this.#initialWindow, this.#unacked);
      this.#window -= shrink;
      this.#mux.shrinkWindow(shrink);
      return -shrink;
    }
    this.#promptBytes += this.#unacked;
    if (this.#promptBytes < GROW_AFTER_WINDOWS * this.#initialWindow) return 0;
    const grow = this.#mux.growWindow(Math.min(this.#window, this.#maxWindow - this.#window));
    this.#window += grow;
    return grow;
  }

  // ---- called by Mux ----

  /** @internal */
  receiveData(payload: Uint8Array): void {
    if (this.#done) return;
    if (this.#finReceived) throw new ProtocolError(`Data frame on stream ${this.id} after its Fin`);
    if (payload.byteLength > this.#recvAllowance) {
      throw new ProtocolError(
        `stream ${this.id} sent ${payload.byteLength} bytes with only ${this.#recvAllowance} bytes of credit left (window ${this.#window})`,
      );
    }
    this.#recvAllowance -= payload.byteLength;
    if (payload.byteLength === 0) return;
    // The payload is a view into the link message; the message buffer is not reused, so no copy is needed.
    if (this.#inbox !== undefined) {
      this.#inbox.push(payload);
      this.#inboxBytes += payload.byteLength;
      return;
    }
    this.#delivering = true;
    try {
      this.#handlers!.data(payload);
    } finally {
      this.#delivering = false;
    }
  }

  /** @internal */
  receiveCredit(increment: number): void {
    if (this.#done) return;
    if (this.#sendCredit + increment > MAX_CREDIT) {
      throw new ProtocolError(`stream ${this.id} credit overflow (${this.#sendCredit} + ${increment})`);
    }
    this.#sendCredit += increment;
    this.#flush();
  }

  /** @internal */
  receiveFin(): void {
    if (this.#done) return;
    if (this.#finReceived) throw new ProtocolError(`second Fin on stream ${this.id}`);
    this.#finReceived = true;
    if (this.#inbox !== undefined) this.#inboxEnd = true;
    else this.#handlers!.end();
    this.#maybeDone();
  }

  /** @internal */
  receiveAccept(): void {
    if (this.#accepted) throw new ProtocolError(`second Accept on stream ${this.id}`);
    this.#accepted = true;
    if (this.#handlers !== undefined) this.#handlers.accepted?.();
  }

  /** @internal The link's queue has room again (after waitForRoom). */
  roomOnLink(): void {
    if (!this.#done) this.#flush();
  }

  /** @internal The stream ends without sending anything (peer reset, link lost). */
  resetLocally(code: number, reason: string): void {
    if (this.#done) return;
    this.#finish();
    const text = reason || resetCodeName(code);
    if (this.#handlers !== undefined) this.#handlers.reset(code, text);
    else this.#lateReset = { code, reason: text }; // nobody attached yet: tell them when they are
  }

  #flush(): void {
    while (this.#pendingBytes > 0 && this.#sendCredit > 0) {
      let chunk = this.#pending.shift()!;
      // A frame of any size is queued, and takeMessage() cuts it to fit messages: a
      // 64 KiB read stays one frame, whose rest can go with the stream's next one.
      const allowed = this.#sendCredit;
      if (chunk.byteLength > allowed) {
        this.#pending.unshift(chunk.subarray(allowed));
        chunk = chunk.subarray(0, allowed);
      }
      this.#pendingBytes -= chunk.byteLength;
      this.#mux.notePending(-chunk.byteLength);
      this.#sendCredit -= chunk.byteLength;
      this.#mux.enqueue(FrameType.Data, this, chunk, false);
    }
    if (this.#endRequested && !this.#finSent && this.#pendingBytes === 0) {
      this.#finSent = true;
      this.#mux.enqueue(FrameType.Fin, this, EMPTY, false);
      this.#maybeDone();
      return;
    }
    if (this.#needDrain && this.#pendingBytes === 0 && this.#sendCredit > 0 && !this.#endRequested) {
      if (this.#waitsForLink) {
        this.#mux.waitForRoom(this);
        return;
      }
      this.#needDrain = false;
      this.#handlers?.drain();
    }
  }

  get #waitsForLink(): boolean {
    return this.#pacedToLink && this.#mux.congested;
  }

  #maybeDone(): void {
    if (this.#finSent && this.#finReceived) this.#finish();
  }

  #finish(): void {
    this.#done = true;
    this.#mux.shrinkWindow(this.#window - this.#initialWindow);
    this.#window = this.#initialWindow;
    this.#pending.clear();
    this.#mux.notePending(-this.#pendingBytes);
    this.#pendingBytes = 0;
    this.#mux.forget(this);
  }
}

function bitCount(bits: number): number {
  let count = 0;
  for (; bits !== 0; bits &= bits - 1) count++;
  return count;
}

// The SL1 record layer: AES-256-GCM records with per-direction keys, implicit
// counter nonces, key updates and an authenticated close. Sequence numbers are
// taken synchronously when a record is sealed or opened, and results come back
// in call order, so async WebCrypto can never reorder or reuse a nonce.

import { ClosedError, ProtocolError, SecurityError } from "../errors.ts";
import {
  AlertCode,
  alertText,
  ContentType,
  contentTypeName,
  encodeAlert,
  messageHeaderBytes,
  sl1Version,
} from "../protocol/handshake.ts";
import {
  bufferSource,
  hkdfExpandLabel,
  nextTrafficSecret,
  skiffLabelPrefix,
  trafficIvBytes,
  trafficKeyBytes,
  type TrafficKey,
} from "./handshake-keys.ts";
import type { AeadKey, RecordAead } from "../platform/types.ts";
import { defaultRecordAead } from "../platform/aead.ts";

const subtle = globalThis.crypto.subtle;

/** Largest plaintext in one record (one link message). */
export const maxRecordPlaintext = 65536;
export const recordTagBytes = 16;
/** Header plus tag. */
export const recordOverhead = messageHeaderBytes + recordTagBytes;
/** Largest record on the wire: 65,554 bytes. Anything larger is refused before decryption. */
export const maxRecordBytes = maxRecordPlaintext + recordOverhead;

export interface RecordLimits {
  /** A writer sends a key update once a key has sealed this many records... */
  keyUpdateAfterRecords: number;
  /** ...or this many plaintext bytes... */
  keyUpdateAfterBytes: number;
  /** ...or has been in use this long (milliseconds). */
  keyUpdateAfterMs: number;
  /** Hard cap per key, both directions: reaching it without a key update is fatal. */
  maxRecordsPerKey: number;
  /** Hard cap of plaintext bytes per key, both directions. */
  maxBytesPerKey: number;
}

/**
 * Key updates come long before AES-GCM's limits: 1 GiB per key is 2^26 blocks,
 * and even the hard cap (16 GiB, 2^30 blocks) keeps the distinguishing
 * advantage near 2^-69 (RFC 8446 section 5.5; draft-irtf-cfrg-aead-limits).
 */
export const defaultRecordLimits: RecordLimits = Object.freeze({
  keyUpdateAfterRecords: 2 ** 20,
  keyUpdateAfterBytes: 2 ** 30,
  keyUpdateAfterMs: 60 * 60 * 1000,
  maxRecordsPerKey: 2 ** 24,
  maxBytesPerKey: 2 ** 34,
});

export interface RecordOptions {
  limits?: Partial<RecordLimits>;
  /** Clock for the time-based key update trigger (milliseconds). */
  now?: () => number;
  /** HKDF label prefix; only the known-answer tests change it. */
  labelPrefix?: string;
  /** The AES-256-GCM implementation (default: the fastest on this runtime, see src/platform/aead.ts). */
  aead?: RecordAead | Promise<RecordAead>;
}

/** The 96-bit nonce for record `seq`: the static IV XOR the big-endian sequence number. */
export function recordNonce(iv: Uint8Array, seq: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(trafficIvBytes);
  nonce.set(iv);
  let rest = seq;
  for (let i = trafficIvBytes - 1; i >= trafficIvBytes - 8 && rest > 0; i--) {
    nonce[i]! ^= rest % 256;
    rest = Math.floor(rest / 256);
  }
  return nonce;
}

function header(type: ContentType): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(sl1Version, type);
}

/** The additional data of each record type: its two header bytes, made once. */
const recordAad: Record<number, Uint8Array> = {
  [ContentType.Data]: header(ContentType.Data),
  [ContentType.KeyUpdate]: header(ContentType.KeyUpdate),
  [ContentType.Alert]: header(ContentType.Alert),
  [ContentType.Handshake]: header(ContentType.Handshake),
};

/** An epoch's key as the record layer holds it: the AEAD key and the static IV. */
interface RecordKey {
  aead: AeadKey;
  iv: Uint8Array;
}

function sealWith(key: RecordKey, seq: number, type: ContentType, plaintext: Uint8Array): Uint8Array | Promise<Uint8Array> {
  const sealed = key.aead.seal(recordNonce(key.iv, seq), recordAad[type]!, plaintext, messageHeaderBytes);
  if (sealed instanceof Uint8Array) {
    sealed[0] = sl1Version;
    sealed[1] = type;
    return sealed;
  }
  return sealed.then((record) => {
    record[0] = sl1Version;
    record[1] = type;
    return record;
  });
}

function openWith(key: RecordKey, seq: number, record: Uint8Array): Uint8Array | Promise<Uint8Array> {
  try {
    const opened = key.aead.open(recordNonce(key.iv, seq), record.subarray(0, messageHeaderBytes), record.subarray(messageHeaderBytes));
    if (opened instanceof Uint8Array) return opened;
    return opened.catch((err: unknown) => {
      throw badRecordMac(seq, err);
    });
  } catch (err) {
    throw badRecordMac(seq, err);
  }
}

function encryptWith(key: TrafficKey, seq: number, type: ContentType, plaintext: Uint8Array): Promise<Uint8Array> {
  // subtle.encrypt copies its input before returning, so the caller's buffer
  // is free again as soon as this call has been made.
  const pending = subtle.encrypt(
    { name: "AES-GCM", iv: recordNonce(key.iv, seq), additionalData: header(type), tagLength: 128 },
    key.key,
    bufferSource(plaintext),
  );
  return pending.then((sealed) => {
    const record = new Uint8Array(messageHeaderBytes + sealed.byteLength);
    record[0] = sl1Version;
    record[1] = type;
    record.set(new Uint8Array(sealed), messageHeaderBytes);
    return record;
  });
}

/** Seal one record with an explicit sequence number. Used by the handshake; links use RecordSealer. */
export function encryptRecord(key: TrafficKey, seq: number, type: ContentType, plaintext: Uint8Array): Promise<Uint8Array> {
  if (plaintext.byteLength > maxRecordPlaintext) {
    return Promise.reject(new RangeError(`record plaintext of ${plaintext.byteLength} bytes exceeds ${maxRecordPlaintext}`));
  }
  return encryptWith(key, seq, type, plaintext);
}

/**
 * Check a record's size and header without decrypting it. Returns its content
 * type. Throws ProtocolError for anything malformed.
 */
export function checkRecord(record: Uint8Array, maxBytes: number = maxRecordBytes): number {
  if (!(record instanceof Uint8Array)) throw new ProtocolError("link message is not binary");
  if (record.byteLength < recordOverhead) {
    throw new ProtocolError(`record of ${record.byteLength} bytes is shorter than the ${recordOverhead}-byte minimum`);
  }
  if (record.byteLength > maxBytes) {
    throw new ProtocolError(`record of ${record.byteLength} bytes exceeds the ${maxBytes}-byte limit (record_overflow)`);
  }
  if (record[0] !== sl1Version) {
    throw new ProtocolError(`record has SL1 version ${record[0]}, expected ${sl1Version}`);
  }
  const type = record[1]!;
  if (
    type !== ContentType.Data &&
    type !== ContentType.KeyUpdate &&
    type !== ContentType.Alert &&
    type !== ContentType.Handshake
  ) {
    throw new ProtocolError(`record has ${contentTypeName(type)}`);
  }
  return type;
}

function badRecordMac(seq: number, cause: unknown): SecurityError {
  return new SecurityError(
    `record ${seq} from the peer failed authentication (bad_record_mac): it was changed in transit, ` +
      "or a record was replayed, reordered, dropped or reflected; the link is closed",
    { cause },
  );
}

/** Open one record with an explicit sequence number. Used by the handshake; links use RecordOpener. */
export async function decryptRecord(
  key: TrafficKey,
  seq: number,
  record: Uint8Array,
  maxBytes: number = maxRecordBytes,
): Promise<{ type: number; payload: Uint8Array }> {
  const type = checkRecord(record, maxBytes);
  let plaintext: ArrayBuffer;
  try {
    plaintext = await subtle.decrypt(
      { name: "AES-GCM", iv: recordNonce(key.iv, seq), additionalData: bufferSource(record.subarray(0, 2)), tagLength: 128 },
      key.key,
      bufferSource(record.subarray(messageHeaderBytes)),
    );
  } catch (err) {
    throw badRecordMac(seq, err);
  }
  return { type, payload: new Uint8Array(plaintext) };
}

// ---- per-direction state ----------------------------------------------------

/** One traffic key's lifetime: from the handshake or a key update to the next key update. */
class Epoch {
  readonly generation: number;
  readonly secret: Promise<Uint8Array>;
  readonly material: Promise<RecordKey>;
  /** Set once `material` has resolved, so steady-state records are sealed without waiting. */
  ready: RecordKey | undefined;
  readonly startedAt: number;
  readonly #aead: Promise<RecordAead>;
  seq = 0;
  bytes = 0;

  constructor(generation: number, secret: Promise<Uint8Array>, prefix: string, startedAt: number, aead: Promise<RecordAead>) {
    this.generation = generation;
    this.secret = secret;
    this.startedAt = startedAt;
    this.#aead = aead;
    this.material = secret.then(async (s) => {
      const [raw, iv, cipher] = await Promise.all([
        hkdfExpandLabel(s, "key", new Uint8Array(0), trafficKeyBytes, prefix),
        hkdfExpandLabel(s, "iv", new Uint8Array(0), trafficIvBytes, prefix),
        aead,
      ]);
      try {
        return { aead: await cipher.importKey(raw), iv };
      } finally {
        raw.fill(0);
      }
    });
    this.material.then(
      (material) => {
        this.ready = material;
      },
      () => {},
    );
  }

  next(prefix: string, now: number): Epoch {
    const nextSecret = this.secret.then((s) => nextTrafficSecret(s, prefix));
    // Wipe this epoch's secret once both its key and its successor exist.
    Promise.all([this.secret, this.material, nextSecret]).then(
      ([secret]) => secret.fill(0),
      () => {},
    );
    return new Epoch(this.generation + 1, nextSecret, prefix, now, this.#aead);
  }

  /** True when a record of `plaintextBytes` can be sealed or opened right now, without a promise. */
  synchronousFor(plaintextBytes: number): boolean {
    return this.ready !== undefined && plaintextBytes <= this.ready.aead.synchronousUpTo;
  }
}

function resolveLimits(options: RecordOptions | undefined): RecordLimits {
  return { ...defaultRecordLimits, ...options?.limits };
}

function resolveAead(options: RecordOptions | undefined): Promise<RecordAead> {
  return Promise.resolve(options?.aead ?? defaultRecordAead());
}

/**
 * Seals records for one direction. `seal()` takes the sequence number before
 * its first await, and every returned promise settles after the one returned
 * by the call before it: send records in the order the calls were made (or use
 * RecordWriter, which does it for you). Any failure is fatal for the sealer.
 */
export class RecordSealer {
  #epoch: Epoch;
  #tail: Promise<unknown> = Promise.resolve();
  /** seal() promises not yet settled: trySeal() must not overtake them. */
  #pending = 0;
  #failure: Error | undefined;
  #finished = false;
  readonly #limits: RecordLimits;
  readonly #now: () => number;
  readonly #prefix: string;

  /** `secret` is copied; the caller may wipe its own copy. */
  constructor(secret: Uint8Array, options?: RecordOptions) {
    this.#limits = resolveLimits(options);
    this.#now = options?.now ?? Date.now;
    this.#prefix = options?.labelPrefix ?? skiffLabelPrefix;
    this.#epoch = new Epoch(0, Promise.resolve(secret.slice()), this.#prefix, this.#now(), resolveAead(options));
  }

  /** True when the next record should be preceded by a key update. */
  get needsKeyUpdate(): boolean {
    const e = this.#epoch;
    return (
      e.seq >= this.#limits.keyUpdateAfterRecords ||
      e.bytes >= this.#limits.keyUpdateAfterBytes ||
      this.#now() - e.startedAt >= this.#limits.keyUpdateAfterMs
    );
  }

  /** How many key updates this sealer has made. */
  get keyGeneration(): number {
    return this.#epoch.generation;
  }

  /** Seal one data record (at most `maxRecordPlaintext` bytes). */
  seal(plaintext: Uint8Array): Promise<Uint8Array> {
    return this.#seal(ContentType.Data, plaintext);
  }

  /** Seal a key update record; later records use the next key. */
  sealKeyUpdate(): Promise<Uint8Array> {
    return this.#seal(ContentType.KeyUpdate, new Uint8Array(0));
  }

  /** Seal close_notify. Nothing can be sealed after it. */
  sealClose(): Promise<Uint8Array> {
    return this.#seal(ContentType.Alert, encodeAlert(AlertCode.CloseNotify));
  }

  /** Seal a fatal alert telling the peer why the link ends. Nothing can be sealed after it. */
  sealAlert(code: AlertCode): Promise<Uint8Array> {
    return this.#seal(ContentType.Alert, encodeAlert(code));
  }

  /**
   * Seal a data record synchronously when nothing stands in the way: no
   * earlier seal() still pending, a key that is ready and synchronous, and no
   * key update due. Returns undefined otherwise (use seal()); nothing was
   * consumed then. Throws the sealer's failure.
   */
  trySeal(plaintext: Uint8Array): Uint8Array | undefined {
    if (this.#pending > 0 || !this.#epoch.synchronousFor(plaintext.byteLength) || this.#failure || this.#finished) return undefined;
    if (this.needsKeyUpdate) return undefined;
    const { epoch, seq } = this.#take(ContentType.Data, plaintext);
    try {
      return sealWith(epoch.ready!, seq, ContentType.Data, plaintext) as Uint8Array;
    } catch (err) {
      throw (this.#failure ??= err instanceof SecurityError ? err : new SecurityError("sealing a record failed", { cause: err }));
    }
  }

  /**
   * Hand back a record from this sealer once the socket has written it, so the
   * cipher can reuse its buffer (AeadKey.recycle). At most once per record.
   */
  recycle(record: Uint8Array): void {
    this.#epoch.ready?.aead.recycle?.(record);
  }

  /** Checks and the sequence rule: the number is taken here, synchronously, before any await. */
  #take(type: ContentType, plaintext: Uint8Array): { epoch: Epoch; seq: number } {
    if (this.#failure) throw this.#failure;
    if (this.#finished) throw new ClosedError("record sealer (an alert was already sent)");
    if (plaintext.byteLength > maxRecordPlaintext) {
      throw new RangeError(`record plaintext of ${plaintext.byteLength} bytes exceeds maxRecordPlaintext (${maxRecordPlaintext})`);
    }
    const epoch = this.#epoch;
    if (epoch.seq >= this.#limits.maxRecordsPerKey || epoch.bytes + plaintext.byteLength > this.#limits.maxBytesPerKey) {
      this.#failure = new SecurityError(
        `refusing to seal: key ${epoch.generation} reached its limit of ${this.#limits.maxRecordsPerKey} records ` +
          `or ${this.#limits.maxBytesPerKey} bytes without a key update`,
      );
      throw this.#failure;
    }
    const seq = epoch.seq++;
    epoch.bytes += plaintext.byteLength;
    if (type === ContentType.KeyUpdate) this.#epoch = epoch.next(this.#prefix, this.#now());
    if (type === ContentType.Alert) this.#finished = true;
    return { epoch, seq };
  }

  #seal(type: ContentType, plaintext: Uint8Array): Promise<Uint8Array> {
    let taken: { epoch: Epoch; seq: number };
    try {
      taken = this.#take(type, plaintext);
    } catch (err) {
      return Promise.reject(err);
    }
    const { epoch, seq } = taken;
    let work: Promise<Uint8Array>;
    try {
      work = Promise.resolve(
        epoch.ready ? sealWith(epoch.ready, seq, type, plaintext) : epoch.material.then((key) => sealWith(key, seq, type, plaintext)),
      );
    } catch (err) {
      work = Promise.reject(err);
    }
    work.catch((err: unknown) => {
      this.#failure ??= err instanceof SecurityError ? err : new SecurityError("sealing a record failed", { cause: err });
    });
    // Settle after the previous record; an earlier failure propagates to every later record.
    const result = this.#tail.then(() => work);
    this.#pending++;
    const settled = () => {
      this.#pending--;
    };
    result.then(settled, settled);
    this.#tail = result;
    return result;
  }
}

/** What one record turned out to be. Key updates are applied by the opener itself. */
export type OpenedRecord =
  | { type: "data"; data: Uint8Array }
  | { type: "keyUpdate" }
  | { type: "close" };

function peerAlertError(code: number): Error {
  const text = `the peer ended the link with alert ${alertText(code)}`;
  switch (code) {
    case AlertCode.BadRecordMac:
    case AlertCode.DecryptError:
    case AlertCode.AccessDenied:
    case AlertCode.BadCertificate:
    case AlertCode.UnknownCa:
    case AlertCode.CertificateExpired:
    case AlertCode.UnsupportedCertificate:
      return new SecurityError(text);
    default:
      return new ProtocolError(text);
  }
}

/**
 * Opens records for one direction, in arrival order. `open()` takes the
 * expected sequence number synchronously and its promise settles after the
 * previous call's, so handlers attached in arrival order run in arrival order.
 * Decryptions may overlap. Any failure is fatal: every later call rejects too.
 */
export class RecordOpener {
  #epoch: Epoch;
  #tail: Promise<unknown> = Promise.resolve();
  /** open() promises not yet settled: tryOpen() must not overtake them. */
  #pending = 0;
  #failure: Error | undefined;
  #alertSeen = false;
  #closed = false;
  readonly #limits: RecordLimits;
  readonly #now: () => number;
  readonly #prefix: string;

  constructor(secret: Uint8Array, options?: RecordOptions) {
    this.#limits = resolveLimits(options);
    this.#now = options?.now ?? Date.now;
    this.#prefix = options?.labelPrefix ?? skiffLabelPrefix;
    this.#epoch = new Epoch(0, Promise.resolve(secret.slice()), this.#prefix, this.#now(), resolveAead(options));
  }

  /** True once an authenticated close_notify has been opened. */
  get closed(): boolean {
    return this.#closed;
  }

  get keyGeneration(): number {
    return this.#epoch.generation;
  }

  open(record: Uint8Array): Promise<OpenedRecord> {
    let taken: { epoch: Epoch; seq: number; type: number };
    try {
      taken = this.#take(record);
    } catch (err) {
      return Promise.reject(err);
    }
    const { epoch, seq, type } = taken;
    const work = (epoch.ready ? Promise.resolve(epoch.ready) : epoch.material)
      .then((key) => openWith(key, seq, record))
      .then((payload) => this.#interpret(type, payload));
    work.catch((err: unknown) => this.#fail(err));
    // Settle after the previous record; an earlier failure propagates to every later record.
    const result = this.#tail.then(() => work);
    this.#pending++;
    const settled = () => {
      this.#pending--;
    };
    result.then(settled, settled);
    this.#tail = result;
    return result;
  }

  /**
   * Open a record synchronously when nothing stands in the way: no earlier
   * open() still pending and a key that is ready and synchronous. Returns
   * undefined otherwise (use open()); nothing was consumed then. Throws on any
   * failure, which is fatal as in open().
   */
  tryOpen(record: Uint8Array): OpenedRecord | undefined {
    if (this.#pending > 0 || !this.#epoch.synchronousFor(Math.max(0, record.byteLength - recordOverhead))) return undefined;
    const { epoch, seq, type } = this.#take(record);
    try {
      return this.#interpret(type, openWith(epoch.ready!, seq, record) as Uint8Array);
    } catch (err) {
      throw this.#fail(err);
    }
  }

  /** Checks and the sequence rule, receiving side: the expected number is fixed at arrival. */
  #take(record: Uint8Array): { epoch: Epoch; seq: number; type: number } {
    if (this.#failure) throw this.#failure;
    let type: number;
    try {
      if (this.#alertSeen) throw new ProtocolError("the peer sent a record after its closing alert");
      type = checkRecord(record);
      if (type === ContentType.Handshake) throw new ProtocolError("the peer sent a handshake record after the handshake");
    } catch (err) {
      throw this.#fail(err);
    }
    const epoch = this.#epoch;
    const payloadBytes = record.byteLength - recordOverhead;
    if (epoch.seq >= this.#limits.maxRecordsPerKey || epoch.bytes + payloadBytes > this.#limits.maxBytesPerKey) {
      throw this.#fail(
        new SecurityError(
          `the peer sent more than ${this.#limits.maxRecordsPerKey} records or ${this.#limits.maxBytesPerKey} bytes ` +
            `under key ${epoch.generation} without a key update`,
        ),
      );
    }
    const seq = epoch.seq++;
    epoch.bytes += payloadBytes;
    if (type === ContentType.KeyUpdate) this.#epoch = epoch.next(this.#prefix, this.#now());
    if (type === ContentType.Alert) this.#alertSeen = true;
    return { epoch, seq, type };
  }

  /**
   * The transport ended. Throws SecurityError unless close_notify was opened
   * first: an unauthenticated end may be an attacker truncating the stream.
   */
  end(): void {
    if (this.#closed) return;
    throw this.#fail(
      new SecurityError(
        "the link's transport closed without an authenticated close_notify: the data may have been truncated",
      ),
    );
  }

  #interpret(type: number, payload: Uint8Array): OpenedRecord {
    switch (type) {
      case ContentType.Data:
        return { type: "data", data: payload };
      case ContentType.KeyUpdate:
        if (payload.byteLength !== 0) throw new ProtocolError(`key update record carries ${payload.byteLength} bytes`);
        return { type: "keyUpdate" };
      case ContentType.Alert: {
        if (payload.byteLength !== 1) throw new ProtocolError(`alert record of ${payload.byteLength} bytes, expected 1`);
        if (payload[0] === AlertCode.CloseNotify) {
          this.#closed = true;
          return { type: "close" };
        }
        throw peerAlertError(payload[0]!);
      }
      default:
        throw new ProtocolError(`record has ${contentTypeName(type)}`);
    }
  }

  #fail(err: unknown): Error {
    if (!this.#failure) {
      this.#failure =
        err instanceof SecurityError || err instanceof ProtocolError
          ? err
          : new SecurityError("opening a record failed", { cause: err });
    }
    return this.#failure;
  }
}

// ---- ordered writer ---------------------------------------------------------

export interface RecordWriterOptions {
  sealer: RecordSealer;
  /** Called synchronously, once per record, in sequence order. Hand the record to the transport. */
  emit(record: Uint8Array): void;
  /** Most records being encrypted at once (default 4). Later writes wait their turn, unsealed. */
  window?: number;
}

interface Pending {
  kind: "data" | "close" | "alert" | "keyUpdate";
  plaintext?: Uint8Array;
  alert?: AlertCode;
  resolve(): void;
  reject(err: unknown): void;
}

interface Slot {
  record?: Uint8Array;
  error?: unknown;
  settled: boolean;
  done: Pending;
}

/**
 * Pipelines several seals and emits the records strictly in sequence order.
 * Inserts key updates when the sealer asks for them. `write()` resolves when
 * its record has been emitted. After a failure every call rejects.
 */
export class RecordWriter {
  readonly #sealer: RecordSealer;
  readonly #emit: (record: Uint8Array) => void;
  readonly #window: number;
  readonly #queue: Pending[] = [];
  readonly #inFlight: Slot[] = [];
  #failure: unknown;
  #closing = false;
  #closed: Promise<void> = Promise.resolve();

  constructor(options: RecordWriterOptions) {
    this.#sealer = options.sealer;
    this.#emit = options.emit;
    this.#window = Math.max(1, options.window ?? 4);
  }

  /** Records accepted but not yet emitted. */
  get pending(): number {
    return this.#queue.length + this.#inFlight.length;
  }

  /** Send `data` as one record. The buffer must not change until the promise settles. */
  write(data: Uint8Array): Promise<void> {
    if (data.byteLength > maxRecordPlaintext) {
      return Promise.reject(new RangeError(`write of ${data.byteLength} bytes exceeds maxRecordPlaintext (${maxRecordPlaintext})`));
    }
    return this.#enqueue("data", data);
  }

  /**
   * Seal and emit `data` as one record right now, when the sealer can do it
   * synchronously and nothing is queued ahead of it. Returns false when it
   * could not (use write()); true once the record has been emitted.
   */
  tryWrite(data: Uint8Array): boolean {
    if (this.#failure !== undefined || this.#closing || this.#queue.length > 0 || this.#inFlight.length > 0) return false;
    let record: Uint8Array | undefined;
    try {
      record = this.#sealer.trySeal(data);
      if (record === undefined) return false;
      this.#emit(record);
    } catch (err) {
      this.#failure = err;
      throw err;
    }
    return true;
  }

  /** Force a key update now (normally automatic). */
  keyUpdate(): Promise<void> {
    return this.#enqueue("keyUpdate");
  }

  /** Send close_notify after everything already written. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closed;
    this.#closed = this.#enqueue("close");
    this.#closing = true;
    return this.#closed;
  }

  /** Send a fatal alert after everything already written; nothing follows it. */
  abort(code: AlertCode): Promise<void> {
    if (this.#closing) return this.#closed;
    const p = this.#enqueue("alert", undefined, code);
    this.#closing = true;
    this.#closed = p;
    return p;
  }

  #enqueue(kind: Pending["kind"], plaintext?: Uint8Array, alert?: AlertCode): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new ClosedError("record writer"));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind, plaintext, alert, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#failure === undefined && this.#queue.length > 0 && this.#inFlight.length < this.#window) {
      const next = this.#queue.shift()!;
      if (next.kind === "data" && this.#sealer.needsKeyUpdate) {
        this.#start(this.#sealer.sealKeyUpdate(), { kind: "keyUpdate", resolve() {}, reject() {} });
      }
      let sealing: Promise<Uint8Array>;
      switch (next.kind) {
        case "data":
          sealing = this.#sealer.seal(next.plaintext!);
          break;
        case "keyUpdate":
          sealing = this.#sealer.sealKeyUpdate();
          break;
        case "close":
          sealing = this.#sealer.sealClose();
          break;
        case "alert":
          sealing = this.#sealer.sealAlert(next.alert!);
          break;
      }
      this.#start(sealing, next);
    }
  }

  #start(sealing: Promise<Uint8Array>, done: Pending): void {
    const slot: Slot = { settled: false, done };
    this.#inFlight.push(slot);
    sealing.then(
      (record) => {
        slot.record = record;
        slot.settled = true;
        this.#flush();
      },
      (err: unknown) => {
        slot.error = err;
        slot.settled = true;
        this.#flush();
      },
    );
  }

  #flush(): void {
    while (this.#inFlight.length > 0 && this.#inFlight[0]!.settled) {
      const slot = this.#inFlight.shift()!;
      if (this.#failure !== undefined) {
        slot.done.reject(this.#failure);
        continue;
      }
      if (slot.error !== undefined) {
        this.#failAll(slot.error, slot.done);
        return;
      }
      try {
        this.#emit(slot.record!);
      } catch (err) {
        this.#failAll(err, slot.done);
        return;
      }
      slot.done.resolve();
    }
    this.#pump();
  }

  #failAll(err: unknown, first: Pending): void {
    this.#failure = err;
    first.reject(err);
    for (const slot of this.#inFlight.splice(0)) slot.done.reject(err);
    for (const pending of this.#queue.splice(0)) pending.reject(err);
  }
}

import type { Lsn } from '../../shared/lsn';
import { TypeRegistry } from './pg-types';

/**
 * Decodes pgoutput (protocol version 1) messages into plain objects. Values stay in PostgreSQL's
 * text form so that the value converter alone decides their representation; an unchanged
 * TOASTed column is marked as such instead of being turned into null or undefined.
 * https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type RawValue = string | null | typeof UNCHANGED_TOAST;
export type RawTuple = RawValue[];

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  isKey: boolean;
}

export interface Relation {
  oid: number;
  schema: string;
  table: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  columns: RelationColumn[];
}

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTimeMicros: bigint; xid: number }
  | { tag: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTimeMicros: bigint }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'type'; oid: number; schema: string; name: string }
  | { tag: 'insert'; relation: Relation; after: RawTuple }
  | { tag: 'update'; relation: Relation; before: RawTuple | null; beforeIsKeyOnly: boolean; after: RawTuple }
  | { tag: 'delete'; relation: Relation; before: RawTuple; beforeIsKeyOnly: boolean }
  | { tag: 'truncate'; relations: Relation[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'origin'; name: string }
  | { tag: 'message'; prefix: string; content: Buffer };

/** Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n;

const REPLICA_IDENTITY: Record<string, Relation['replicaIdentity']> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};

class Reader {
  private position = 0;
  constructor(private readonly buffer: Buffer) {}

  uint8(): number {
    return this.buffer.readUInt8(this.position++);
  }
  int16(): number {
    const value = this.buffer.readInt16BE(this.position);
    this.position += 2;
    return value;
  }
  int32(): number {
    const value = this.buffer.readInt32BE(this.position);
    this.position += 4;
    return value;
  }
  uint32(): number {
    const value = this.buffer.readUInt32BE(this.position);
    this.position += 4;
    return value;
  }
  uint64(): bigint {
    const value = this.buffer.readBigUInt64BE(this.position);
    this.position += 8;
    return value;
  }
  micros(): bigint {
    return this.buffer.readBigInt64BE((this.position += 8) - 8) + POSTGRES_EPOCH_MICROS;
  }
  string(): string {
    const end = this.buffer.indexOf(0, this.position);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const value = this.buffer.toString('utf8', this.position, end);
    this.position = end + 1;
    return value;
  }
  text(length: number): string {
    const value = this.buffer.toString('utf8', this.position, this.position + length);
    this.position += length;
    return value;
  }
  bytes(length: number): Buffer {
    const value = this.buffer.subarray(this.position, this.position + length);
    this.position += length;
    return value;
  }
}

export class PgoutputDecoder {
  private readonly relations = new Map<number, Relation>();

  constructor(readonly types: TypeRegistry = new TypeRegistry()) {}

  relation(oid: number): Relation {
    const relation = this.relations.get(oid);
    if (!relation) throw new Error(`pgoutput: change for relation ${oid} before its Relation message`);
    return relation;
  }

  decode(buffer: Buffer): PgoutputMessage {
    const reader = new Reader(buffer);
    const tag = String.fromCharCode(reader.uint8());
    switch (tag) {
      case 'B':
        return { tag: 'begin', finalLsn: reader.uint64(), commitTimeMicros: reader.micros(), xid: reader.uint32() };
      case 'C': {
        reader.uint8(); // flags, unused
        return { tag: 'commit', commitLsn: reader.uint64(), endLsn: reader.uint64(), commitTimeMicros: reader.micros() };
      }
      case 'R':
        return { tag: 'relation', relation: this.readRelation(reader) };
      case 'Y': {
        const oid = reader.uint32();
        const schema = reader.string();
        const name = reader.string();
        this.types.learn(oid, name);
        return { tag: 'type', oid, schema, name };
      }
      case 'I': {
        const relation = this.relation(reader.uint32());
        reader.uint8(); // 'N'
        return { tag: 'insert', relation, after: this.readTuple(reader) };
      }
      case 'U': {
        const relation = this.relation(reader.uint32());
        let kind = String.fromCharCode(reader.uint8());
        let before: RawTuple | null = null;
        const beforeIsKeyOnly = kind === 'K';
        if (kind === 'K' || kind === 'O') {
          before = this.readTuple(reader);
          kind = String.fromCharCode(reader.uint8());
        }
        if (kind !== 'N') throw new Error(`pgoutput: unexpected update tuple kind ${kind}`);
        return { tag: 'update', relation, before, beforeIsKeyOnly, after: this.readTuple(reader) };
      }
      case 'D': {
        const relation = this.relation(reader.uint32());
        const kind = String.fromCharCode(reader.uint8());
        return { tag: 'delete', relation, before: this.readTuple(reader), beforeIsKeyOnly: kind === 'K' };
      }
      case 'T': {
        const count = reader.uint32();
        const flags = reader.uint8();
        const relations = Array.from({ length: count }, () => this.relation(reader.uint32()));
        return { tag: 'truncate', relations, cascade: (flags & 1) !== 0, restartIdentity: (flags & 2) !== 0 };
      }
      case 'O':
        reader.uint64(); // the origin's commit LSN
        return { tag: 'origin', name: reader.string() };
      case 'M': {
        reader.uint8(); // flags
        reader.uint64(); // lsn
        const prefix = reader.string();
        // a copy: the buffer decoded is the replication connection's, reused for the next messages
        return { tag: 'message', prefix, content: Buffer.from(reader.bytes(reader.uint32())) };
      }
      default:
        throw new Error(`pgoutput: unknown message type "${tag}"`);
    }
  }

  private readRelation(reader: Reader): Relation {
    const oid = reader.uint32();
    const schema = reader.string() || 'pg_catalog';
    const table = reader.string();
    const replicaIdentity = REPLICA_IDENTITY[String.fromCharCode(reader.uint8())] ?? 'default';
    const columnCount = reader.int16();
    const columns = Array.from({ length: columnCount }, () => {
      const flags = reader.uint8();
      return { isKey: (flags & 1) !== 0, name: reader.string(), typeOid: reader.uint32(), typeMod: reader.int32() };
    });
    const relation = { oid, schema, table, replicaIdentity, columns };
    this.relations.set(oid, relation);
    return relation;
  }

  private readTuple(reader: Reader): RawTuple {
    const count = reader.int16();
    const tuple: RawTuple = new Array(count);
    for (let i = 0; i < count; i++) {
      const kind = reader.uint8();
      if (kind === 0x74 /* t */) tuple[i] = reader.text(reader.uint32());
      else if (kind === 0x6e /* n */) tuple[i] = null;
      else if (kind === 0x75 /* u */) tuple[i] = UNCHANGED_TOAST;
      else if (kind === 0x62 /* b */) tuple[i] = reader.bytes(reader.uint32()).toString('hex');
      else throw new Error(`pgoutput: unknown tuple value kind ${kind}`);
    }
    return tuple;
  }
}

/** Builds pgoutput protocol-1 messages byte by byte, as PostgreSQL sends them, for decoder tests. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

class Writer {
  private parts: Buffer[] = [];
  byte(char: string | number) {
    this.parts.push(Buffer.from([typeof char === 'string' ? char.charCodeAt(0) : char]));
    return this;
  }
  int16(value: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.parts.push(b);
    return this;
  }
  int32(value: number) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.parts.push(b);
    return this;
  }
  int64(value: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    this.parts.push(b);
    return this;
  }
  string(value: string) {
    this.parts.push(Buffer.from(value + '\0', 'utf8'));
    return this;
  }
  build() {
    return Buffer.concat(this.parts);
  }
}

export type Cell = string | null | 'UNCHANGED_TOAST';

function tuple(writer: Writer, cells: Cell[]) {
  writer.int16(cells.length);
  for (const cell of cells) {
    if (cell === null) writer.byte('n');
    else if (cell === 'UNCHANGED_TOAST') writer.byte('u');
    else {
      const bytes = Buffer.from(cell, 'utf8');
      writer.byte('t').int32(bytes.length);
      (writer as unknown as { parts: Buffer[] }).parts.push(bytes);
    }
  }
}

export const pgoutput = {
  begin: (finalLsn: bigint, xid: number, commitMs = 1_700_000_000_000) =>
    new Writer().byte('B').int64(finalLsn).int64(BigInt(commitMs) * 1000n - PG_EPOCH_MICROS).int32(xid).build(),
  /** Sent after BEGIN for a transaction written under a replication origin. */
  origin: (name: string, originLsn = 0n) => new Writer().byte('O').int64(originLsn).string(name).build(),
  commit: (commitLsn: bigint, endLsn: bigint, commitMs = 1_700_000_000_000) =>
    new Writer().byte('C').byte(0).int64(commitLsn).int64(endLsn).int64(BigInt(commitMs) * 1000n - PG_EPOCH_MICROS).build(),
  relation: (oid: number, schema: string, table: string, identity: 'd' | 'f', columns: Array<{ name: string; typeOid: number; key?: boolean }>) => {
    const writer = new Writer().byte('R').int32(oid).string(schema).string(table).byte(identity).int16(columns.length);
    for (const column of columns) writer.byte(column.key ? 1 : 0).string(column.name).int32(column.typeOid).int32(-1);
    return writer.build();
  },
  type: (oid: number, schema: string, name: string) => new Writer().byte('Y').int32(oid).string(schema).string(name).build(),
  insert: (oid: number, cells: Cell[]) => {
    const writer = new Writer().byte('I').int32(oid).byte('N');
    tuple(writer, cells);
    return writer.build();
  },
  update: (oid: number, cells: Cell[], old?: { kind: 'K' | 'O'; cells: Cell[] }) => {
    const writer = new Writer().byte('U').int32(oid);
    if (old) tuple(writer.byte(old.kind), old.cells);
    tuple(writer.byte('N'), cells);
    return writer.build();
  },
  delete: (oid: number, kind: 'K' | 'O', cells: Cell[]) => {
    const writer = new Writer().byte('D').int32(oid).byte(kind);
    tuple(writer, cells);
    return writer.build();
  },
  truncate: (oids: number[]) => {
    const writer = new Writer().byte('T').int32(oids.length).byte(0);
    for (const oid of oids) writer.int32(oid);
    return writer.build();
  },
};

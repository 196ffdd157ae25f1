/** What capture needs to know about a column's type to represent its values. */
export interface TypeInfo {
  /** pg_type.typname, e.g. "int8", "timestamptz", "vector", "_text" for text[]. */
  name: string;
}

/** Built-in type OIDs (stable across PostgreSQL versions; see pg_type.dat). */
const BUILTIN_TYPES: Record<number, string> = {
  16: 'bool',
  17: 'bytea',
  18: 'char',
  19: 'name',
  20: 'int8',
  21: 'int2',
  23: 'int4',
  25: 'text',
  26: 'oid',
  114: 'json',
  142: 'xml',
  700: 'float4',
  701: 'float8',
  790: 'money',
  829: 'macaddr',
  869: 'inet',
  650: 'cidr',
  1042: 'bpchar',
  1043: 'varchar',
  1082: 'date',
  1083: 'time',
  1114: 'timestamp',
  1184: 'timestamptz',
  1186: 'interval',
  1266: 'timetz',
  1560: 'bit',
  1562: 'varbit',
  1700: 'numeric',
  2950: 'uuid',
  3802: 'jsonb',
  // arrays
  199: '_json',
  1000: '_bool',
  1001: '_bytea',
  1005: '_int2',
  1007: '_int4',
  1009: '_text',
  1014: '_bpchar',
  1015: '_varchar',
  1016: '_int8',
  1021: '_float4',
  1022: '_float8',
  1115: '_timestamp',
  1182: '_date',
  1185: '_timestamptz',
  1231: '_numeric',
  2951: '_uuid',
  3807: '_jsonb',
};

/** Resolves type OIDs to names: built-ins from a table, others as PostgreSQL announces them. */
export class TypeRegistry {
  private readonly learned = new Map<number, TypeInfo>();

  learn(oid: number, name: string): void {
    this.learned.set(oid, { name });
  }

  has(oid: number): boolean {
    return oid in BUILTIN_TYPES || this.learned.has(oid);
  }

  resolve(oid: number): TypeInfo {
    const builtin = BUILTIN_TYPES[oid];
    if (builtin) return { name: builtin };
    return this.learned.get(oid) ?? { name: `oid:${oid}` };
  }
}

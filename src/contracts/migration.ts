/**
 * One versioned step of a projection's target DDL, applied once, in version order, with
 * search_path = <schema>, public, and recorded in tandem.projection_migrations. Append-only: an
 * applied migration whose text changed stops start-up.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

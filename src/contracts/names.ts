/**
 * Every name Tandem gives a thing in Kafka: topics, consumer groups, transactional ids. Two
 * deployments may share a Kafka cluster, so each name carries the topic prefix.
 */

/** A source table's change topic: `<prefix>.<schema>.<table>`. */
export const tableTopic = (prefix: string, schema: string, table: string) => `${prefix}.${schema}.${table}`;

/** The change topic of a source ("schema.table", as projections name their inputs). */
export const sourceTopic = (prefix: string, source: string) => `${prefix}.${source}`;

/** The source ("schema.table") a change topic carries. */
export const sourceOfTopic = (prefix: string, topic: string) =>
  topic.startsWith(`${prefix}.`) ? topic.slice(prefix.length + 1) : topic;

/** BEGIN/END markers of source transactions. */
export const transactionTopic = (prefix: string) => `${prefix}.transaction`;

/** The schema name imported records carry: source "import.<table>". */
export const IMPORT_SCHEMA = 'import';

/** Records of an export file (`tandem import`): `<prefix>.import.<table>`. */
export const importTopic = (prefix: string, table: string) => tableTopic(prefix, IMPORT_SCHEMA, table);

/** A projection's dead letters: `<prefix>.dlq.<projection>`. */
export const deadLetterTopic = (prefix: string, projection: string) => `${prefix}.dlq.${projection}`;

/** The live projector's consumer group, one per projection. */
export const projectionGroup = (prefix: string, projection: string) => `tandem-projection.${prefix}.${projection}`;

/** A dry run's own group (it must not take partitions from the live projector), deleted when it stops. */
export const dryRunGroup = (prefix: string, projection: string, unique: string) =>
  `tandem-dry-run.${prefix}.${projection}.${unique}`;

/** The prefix of a replay's reader groups (each run adds a unique suffix). */
export const replayGroupPrefix = (prefix: string, projection: string) => `tandem-replay.${prefix}.${projection}`;

/** Names capture uses in Kafka for one source slot. */
export function captureNames(prefix: string, slot: string) {
  return {
    /** Capture's own position (compacted), one key per prefix and slot. */
    stateTopic: '__tandem_capture_state',
    stateKey: `${prefix}/${slot}`,
    stateGroup: `tandem-capture-position.${prefix}.${slot}`,
    transactionalId: `tandem-capture.${prefix}.${slot}`,
    heartbeatTopic: `__tandem_heartbeat.${prefix}`,
  };
}

/** `tandem import`'s transactional producer, one per prefix and recipe. */
export const importTransactionalId = (prefix: string, recipe: string) => `tandem-import.${prefix}.${recipe}`;

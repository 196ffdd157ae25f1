/**
 * The one home of failback's names. Failback capture reads the target with its own slot and
 * publication and writes `<prefix>.failback.<schema>.<table>`; the applier writes the legacy
 * database in sessions marked with a replication origin that forward capture skips.
 */
export function failbackNames(prefix: string, slot: string, publication: string) {
  const topicPrefix = `${prefix}.failback`;
  return {
    topicPrefix,
    slot: `${slot}_failback`,
    publication: `${publication}_failback`,
    /** One origin per projection: PostgreSQL 15 lets one session at a time use an origin. */
    origin: (projection: string) => `${failbackOriginPrefix(prefix)}${projection}`,
    consumerGroup: (projection: string) => `tandem-failback.${prefix}.${projection}`,
    deadLetterTopic: (projection: string) => `${topicPrefix}.dlq.${projection}`,
    /**
     * The origin of the projector's target writes (they came from legacy). Failback capture reads
     * with topic prefix `<prefix>.failback` and so skips origins starting with
     * failbackOriginPrefix(`<prefix>.failback`): this one does.
     */
    projectorOrigin: (projection: string) => `${failbackOriginPrefix(topicPrefix)}projector.${projection}`,
    /** The name the applier's checkpoints and quarantine rows carry in the legacy database. */
    checkpointName: (projection: string) => `failback.${projection}`,
  };
}

/** The replication origins of failback's legacy writes start so: forward capture of `prefix` skips them. */
export function failbackOriginPrefix(prefix: string): string {
  return `tandem_failback.${prefix}.`;
}

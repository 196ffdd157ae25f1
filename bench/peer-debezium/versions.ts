/** The Debezium release bench/peer-debezium/pom.xml resolves (keep the two in step). */
export const DEBEZIUM_VERSION = '3.0.8.Final';

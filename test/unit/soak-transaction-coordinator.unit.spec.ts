import { transactionStatePartition } from '../soak/kafka-cluster-faults';

// The cluster soak kills capture's transaction coordinator: the broker leading the __transaction_state
// partition Kafka picks as Utils.abs(transactionalId.hashCode()) % partitions (Java semantics).
describe('transactionStatePartition', () => {
  it("follows Java's String.hashCode, including its 32-bit overflow", () => {
    expect(transactionStatePartition('hello')).toBe(99162322 % 50); // "hello".hashCode() = 99162322
    expect(transactionStatePartition('tandem-capture.soak.soak', 7)).toBe(javaPartition('tandem-capture.soak.soak', 7));
  });

  it("maps Integer.MIN_VALUE to 0 as Kafka's Utils.abs does", () => {
    expect(transactionStatePartition('polygenelubricants')).toBe(0); // its hashCode is Integer.MIN_VALUE
  });
});

/** Independent reference: BigInt arithmetic modulo 2^32, then Kafka's abs. */
function javaPartition(text: string, partitions: number): number {
  let hash = 0n;
  for (const char of text) hash = (hash * 31n + BigInt(char.charCodeAt(0))) % 2n ** 32n;
  const signed = hash >= 2n ** 31n ? hash - 2n ** 32n : hash;
  const abs = signed === -(2n ** 31n) ? 0n : signed < 0n ? -signed : signed;
  return Number(abs % BigInt(partitions));
}

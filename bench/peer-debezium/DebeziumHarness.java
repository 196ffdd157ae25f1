import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Runs Debezium's PostgreSQL connector in its embedded engine and writes every record to Kafka
 * with an idempotent producer (acks=all), the value converted by Kafka's JsonConverter with
 * schemas disabled, so that the record value is the plain change-event envelope.
 *
 * <p>Usage: java -cp 'lib/*' DebeziumHarness.java connector.properties
 *
 * <p>The properties file holds the engine and connector settings (see config.ts next to this
 * file) plus three of the harness's own: harness.bootstrap.servers, harness.partitions (of each
 * topic the harness creates) and harness.replication.factor. A batch of records is marked
 * processed, so that its offsets may be flushed, only once Kafka acknowledged all of it.
 */
public class DebeziumHarness {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: DebeziumHarness <connector.properties>");
      System.exit(2);
    }
    Properties all = new Properties();
    try (InputStream in = new FileInputStream(args[0])) {
      all.load(in);
    }
    String bootstrap = (String) all.remove("harness.bootstrap.servers");
    int partitions = Integer.parseInt((String) all.remove("harness.partitions"));
    short replication = Short.parseShort((String) all.remove("harness.replication.factor"));

    KafkaSink sink = new KafkaSink(bootstrap, partitions, replication);
    CountDownLatch finished = new CountDownLatch(1);
    DebeziumEngine<ChangeEvent<String, String>> engine =
        DebeziumEngine.create(Json.class)
            .using(all)
            .using(
                new DebeziumEngine.ConnectorCallback() {
                  @Override
                  public void taskStarted() {
                    log("task started");
                  }
                })
            .using(
                (success, message, error) -> {
                  log("engine stopped: success=" + success + " " + (message == null ? "" : message));
                  if (error != null) error.printStackTrace();
                  finished.countDown();
                })
            .notifying(sink::handleBatch)
            .build();

    ExecutorService executor = Executors.newSingleThreadExecutor();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    engine.close();
                    finished.await(30, TimeUnit.SECONDS);
                  } catch (Exception e) {
                    e.printStackTrace();
                  } finally {
                    sink.close();
                  }
                }));
    executor.execute(engine);
    finished.await();
    executor.shutdown();
  }

  static void log(String message) {
    System.out.println("[debezium-harness] " + message);
    System.out.flush();
  }

  /** Produces each batch to Kafka and waits for every acknowledgement before committing offsets. */
  static final class KafkaSink {
    private final KafkaProducer<String, String> producer;
    private final Admin admin;
    private final int partitions;
    private final short replication;
    private final Set<String> knownTopics = new HashSet<>();
    private long produced = 0;

    KafkaSink(String bootstrap, int partitions, short replication) {
      Properties producerConfig = new Properties();
      producerConfig.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      producerConfig.put(ProducerConfig.ACKS_CONFIG, "all");
      producerConfig.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
      producerConfig.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, "10485760");
      producerConfig.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      producerConfig.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      this.producer = new KafkaProducer<>(producerConfig);
      Properties adminConfig = new Properties();
      adminConfig.put("bootstrap.servers", bootstrap);
      this.admin = Admin.create(adminConfig);
      this.partitions = partitions;
      this.replication = replication;
    }

    void handleBatch(
        List<ChangeEvent<String, String>> records,
        DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer)
        throws InterruptedException {
      List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
      for (ChangeEvent<String, String> record : records) {
        ensureTopic(record.destination());
        acks.add(producer.send(new ProducerRecord<>(record.destination(), record.key(), record.value())));
      }
      try {
        for (Future<RecordMetadata> ack : acks) ack.get();
      } catch (ExecutionException e) {
        throw new RuntimeException("Kafka refused a record", e.getCause());
      }
      for (ChangeEvent<String, String> record : records) committer.markProcessed(record);
      committer.markBatchFinished();
      produced += records.size();
    }

    private void ensureTopic(String topic) throws InterruptedException {
      if (knownTopics.contains(topic)) return;
      try {
        admin.createTopics(List.of(new NewTopic(topic, partitions, replication))).all().get();
        log("created topic " + topic);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          throw new RuntimeException("cannot create topic " + topic, e.getCause());
        }
      }
      knownTopics.add(topic);
    }

    void close() {
      producer.close();
      admin.close();
      log("produced " + produced + " records");
    }
  }
}

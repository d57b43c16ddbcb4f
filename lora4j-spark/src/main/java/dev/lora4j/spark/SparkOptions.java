package dev.lora4j.spark;

import dev.lora4j.Lora4jException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Option;

/**
 * The options every lora4j-spark command adds to its own (a picocli mixin), and the Spark session they
 * make. Under spark-submit the master and the rest of the configuration come from spark-submit;
 * {@code --master} is for trying a job locally.
 */
final class SparkOptions {
    @Option(names = "--master", paramLabel = "URL", description = "Spark master, e.g. 'local[2]' or spark://host:7077 (default: spark-submit's).")
    String master;
    @Option(names = "--partitions", paramLabel = "N", defaultValue = "0", description = "Partitions of the data; one task per partition (default: Spark's parallelism).")
    int partitions;
    @Option(names = "--executor-threads", paramLabel = "N", defaultValue = "0",
            description = "lora4j threads in each executor JVM (default: its spark.executor.cores, else all its cores).")
    int executorThreads;
    @Option(names = "--executor-model", paramLabel = "PATH", description = "Where the executors read the base model (shared storage; default: the driver's --model path).")
    String executorModel;
    @Option(names = "--ship-model", description = "Send the model directory with the job (SparkContext.addFile) instead of reading it from shared storage.")
    boolean shipModel;

    private SparkSession session;
    private boolean ownSession; // a session the JVM had already (an application calling SparkMain.run) is left running

    SparkTraining.Options training() {
        return SparkTraining.Options.defaults().withPartitions(partitions).withExecutorThreads(executorThreads).withModelPath(executorModel)
                .withShipModel(shipModel);
    }

    /** The job's Spark session, made on first use. */
    synchronized SparkSession session(String appName) {
        if (session != null) return session;
        if (master != null && master.isBlank()) throw new Lora4jException("--master must name a Spark master, e.g. 'local[2]'");
        SparkSession.Builder b = SparkSession.builder().appName(appName);
        if (master != null) b.master(master);
        else if (!new org.apache.spark.SparkConf().contains("spark.master"))
            throw new Lora4jException("no Spark master: run under spark-submit, or give --master (e.g. --master 'local[2]')");
        ownSession = SparkSession.getDefaultSession().isEmpty();
        session = b.getOrCreate();
        session.sparkContext().setLogLevel("WARN");
        return session;
    }

    JavaSparkContext context(String appName) {
        return JavaSparkContext.fromSparkContext(session(appName).sparkContext());
    }

    synchronized void stop() {
        if (session != null && ownSession) session.stop();
        session = null;
    }
}

package dev.lora4j.spark;

import dev.lora4j.Lora4jException;
import org.apache.spark.SparkFiles;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A model directory sent with the job ({@code --ship-model}) instead of read from shared storage. Its
 * files go one by one through {@code SparkContext.addFile} (Spark sends whole directories only from
 * Hadoop file systems), with a marker file of a name unique to this job. An executor keeps a job's
 * files in its working directory, or, for a SQL job, in a directory of the session's own below it; the
 * marker tells which directory holds this model. Subdirectories are not sent (a Hugging Face checkpoint
 * keeps its files at the top).
 */
final class ShippedModel {
    private ShippedModel() {}

    /** Sends dir's files with the context's jobs; returns the marker that {@link #find} looks for. */
    static String ship(JavaSparkContext sc, Path dir) {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new Lora4jException(dir + ": cannot list the model directory: " + e.getMessage());
        }
        if (files.stream().noneMatch(f -> f.getFileName().toString().equals("config.json")))
            throw new Lora4jException(dir + ": no config.json; --ship-model sends a Hugging Face model directory");
        String marker = "lora4j-model-" + UUID.randomUUID() + ".txt";
        try {
            Path m = Files.createTempDirectory("lora4j-ship").resolve(marker);
            // deleteOnExit deletes in the reverse order of registration: the directory first, so the file after.
            m.getParent().toFile().deleteOnExit();
            m.toFile().deleteOnExit();
            Files.writeString(m, dir.toAbsolutePath() + "\n");
            for (Path f : files) sc.sc().addFile(f.toAbsolutePath().toString());
            sc.sc().addFile(m.toString());
        } catch (IOException e) {
            throw new Lora4jException("cannot write the --ship-model marker file: " + e.getMessage());
        }
        return marker;
    }

    /** As {@link #ship(JavaSparkContext, Path)}, for the session's SQL jobs (which see the files of their own session). */
    static String ship(SparkSession session, Path dir) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(session.sparkContext());
        if (session instanceof org.apache.spark.sql.classic.SparkSession classic)
            return classic.artifactManager().withResources(() -> ship(sc, dir));
        return ship(sc, dir);
    }

    /** On an executor: the directory holding the files shipped with marker. */
    static String find(String marker) {
        Path root = Path.of(SparkFiles.getRootDirectory()).toAbsolutePath();
        Path direct = Path.of(SparkFiles.get(marker)).toAbsolutePath();
        if (Files.isRegularFile(direct)) return direct.getParent().toString();
        if (Files.isRegularFile(root.resolve(marker))) return root.toString();
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(d -> Files.isRegularFile(d.resolve(marker))).findFirst().map(Path::toString)
                    .orElseThrow(() -> new Lora4jException("the model shipped with --ship-model is not on this executor (no " + marker + " in " + root + ")"));
        } catch (IOException e) {
            throw new Lora4jException(root + ": cannot list the executor's files: " + e.getMessage());
        }
    }
}

package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** import-onnx straight from LangChain4j's artifact jar, then embed: the commands a JVM team would run on all-MiniLM-L6-v2. */
class EmbedCommandTest {
    @TempDir
    Path tmp;

    static Path artifactJar() throws IOException {
        URL u = EmbedCommandTest.class.getClassLoader().getResource("all-minilm-l6-v2.onnx");
        assertThat(u).as("the model artifact on the test classpath").isNotNull();
        return Path.of(((JarURLConnection) u.openConnection()).getJarFileURL().getPath());
    }

    @Test
    void importFromTheArtifactJarAndEmbed() throws IOException {
        Path dir = tmp.resolve("minilm");
        CliRunner.Run imp = CliRunner.run("import-onnx", "--onnx", artifactJar().toString(), "--out", dir.toString());
        assertThat(imp.code()).as(imp.err()).isZero();
        assertThat(dir.resolve("tokenizer.json")).exists();
        CliRunner.Run r = CliRunner.run("embed", "--model", dir.toString(), "--text", "A man is playing a guitar.",
                "--text", "Someone plays an acoustic guitar.", "--text", "The stock market fell sharply today.");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(3);
        float[][] e = new float[3][];
        for (int i = 0; i < 3; i++) {
            JsonNode o = new ObjectMapper().readTree(lines.get(i));
            e[i] = new ObjectMapper().convertValue(o.get("embedding"), float[].class);
            assertThat(e[i]).hasSize(384);
        }
        assertThat(cos(e[0], e[1])).isGreaterThan(cos(e[0], e[2]) + 0.3);
        CliRunner.Run inspect = CliRunner.run("inspect", "--model", dir.toString(), "--json");
        assertThat(inspect.code()).as(inspect.err()).isZero();
        JsonNode info = new ObjectMapper().readTree(inspect.lastLine());
        assertThat(info.get("parameters").asLong()).isEqualTo(22_565_376L); // all-MiniLM-L6-v2 without its unused pooler
        assertThat(info.get("heads").asInt()).isEqualTo(12);
        CliRunner.Run decoderOnly = CliRunner.run("generate", "--model", dir.toString(), "--prompt-ids", "101,102");
        assertThat(decoderOnly.code()).isNotZero();
        assertThat(decoderOnly.err()).contains("is an encoder").doesNotContain("Exception");
        // a second import into the same, now full, directory is refused, and nothing is changed
        CliRunner.Run again = CliRunner.run("import-onnx", "--onnx", artifactJar().toString(), "--out", dir.toString());
        assertThat(again.code()).isNotZero();
        assertThat(again.err()).contains("not empty");
    }

    /** tune-embeddings writes an adapter that embed --adapter uses: made-up pairings are learned. */
    @Test
    void tuneEmbeddingsThenEmbedWithTheAdapter() throws IOException {
        Path dir = tmp.resolve("minilm"), data = tmp.resolve("pairs.jsonl"), adapter = tmp.resolve("tuned");
        assertThat(CliRunner.run("import-onnx", "--onnx", artifactJar().toString(), "--out", dir.toString()).code()).isZero();
        String[] words = {"river", "mountain", "violin", "harbour", "lantern", "orchard", "glacier", "compass"};
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words.length; i++) sb.append("{\"anchor\": \"code ").append((char) ('A' + i)).append((char) ('Q' - i)).append("\", \"positive\": \"a ").append(words[i]).append("\"}\n");
        Files.writeString(data, sb.toString());
        CliRunner.Run tune = CliRunner.run("tune-embeddings", "--model", dir.toString(), "--data", data.toString(), "--out", adapter.toString(),
                "--steps", "25", "--batch-size", "6", "--lr", "2e-3", "--eval-fraction", "0.25");
        assertThat(tune.code()).as(tune.err()).isZero();
        assertThat(tune.out()).containsPattern("held-out recall@1 over 2 pairs: [01]\\.\\d{3} before, [01]\\.\\d{3} after");
        assertThat(Files.readString(adapter.resolve("adapter_config.json"))).contains("FEATURE_EXTRACTION");
        float[][] tuned = embed(dir, adapter, "code AQ", "a river"), plain = embed(dir, null, "code AQ", "a river"); // a trained pair
        assertThat(cos(tuned[0], tuned[1])).isGreaterThan(cos(plain[0], plain[1]) + 0.2);
        CliRunner.Run export = CliRunner.run("export-onnx", "--model", dir.toString(), "--adapter", adapter.toString(), "--out", tmp.resolve("tuned.onnx").toString());
        assertThat(export.code()).as(export.err()).isZero();
        assertThat(Files.size(tmp.resolve("tuned.onnx"))).isEqualTo(Files.size(dir.resolve("model.onnx"))); // the same graph, other weights
        assertThat(Files.mismatch(tmp.resolve("tuned.onnx"), dir.resolve("model.onnx"))).isPositive();
        Files.writeString(data, "{\"anchor\": \"x\"}\n");
        CliRunner.Run bad = CliRunner.run("tune-embeddings", "--model", dir.toString(), "--data", data.toString(), "--out", tmp.resolve("bad").toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("pairs.jsonl:1").doesNotContain("Exception");
    }

    static float[][] embed(Path dir, Path adapter, String... texts) throws IOException {
        List<String> args = new java.util.ArrayList<>(List.of("embed", "--model", dir.toString()));
        if (adapter != null) args.addAll(List.of("--adapter", adapter.toString()));
        for (String t : texts) args.addAll(List.of("--text", t));
        CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        return r.out().lines().map(l -> {
            try {
                return new ObjectMapper().convertValue(new ObjectMapper().readTree(l).get("embedding"), float[].class);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).toArray(float[][]::new);
    }

    @Test
    void badInputsAreCleanErrors() throws IOException {
        Path notOnnx = tmp.resolve("x.onnx");
        Files.writeString(notOnnx, "this is not protobuf");
        for (String[] args : List.of(new String[] {"import-onnx", "--onnx", tmp.resolve("missing.onnx").toString(), "--out", tmp.resolve("a").toString()},
                new String[] {"import-onnx", "--onnx", notOnnx.toString(), "--out", tmp.resolve("b").toString()},
                new String[] {"import-onnx", "--onnx", artifactJar().toString(), "--out", tmp.resolve("c").toString(), "--pooling", "max"},
                new String[] {"embed", "--model", tmp.toString(), "--text", "x"})) {
            CliRunner.Run r = CliRunner.run(args);
            assertThat(r.code()).as(String.join(" ", args)).isNotZero();
            assertThat(r.err()).as(String.join(" ", args)).startsWith("lora4j: error:").doesNotContain("Exception");
        }
        assertThat(tmp.resolve("b")).doesNotExist();
    }

    static double cos(float[] a, float[] b) {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            d += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return d / Math.sqrt(na * nb);
    }
}

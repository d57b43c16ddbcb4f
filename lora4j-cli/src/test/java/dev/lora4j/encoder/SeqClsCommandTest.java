package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.cli.CliRunner;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * train --task seq-cls and eval --task seq-cls on all-MiniLM-L6-v2 (from LangChain4j's artifact) and real labelled text:
 * three of examples/wordnet-lexnames' categories, a probe, LoRA and full fine-tuning each saved and evaluated again.
 */
class SeqClsCommandTest {
    @TempDir
    static Path tmp;
    static Path model, train, test;

    @BeforeAll
    static void setUp() throws IOException {
        model = tmp.resolve("minilm");
        CliRunner.Run imp = CliRunner.run("import-onnx", "--onnx", EmbedCommandTest.artifactJar().toString(), "--out", model.toString());
        assertThat(imp.code()).as(imp.err()).isZero();
        Path data = Path.of(System.getProperty("user.dir")).getParent().resolve("examples/wordnet-lexnames");
        train = subset(data.resolve("train.jsonl"), tmp.resolve("train.jsonl"), 120);
        test = subset(data.resolve("test.jsonl"), tmp.resolve("test.jsonl"), 60);
    }

    /** The first n lines of three categories that a good encoder tells apart but not trivially. */
    static Path subset(Path from, Path to, int n) throws IOException {
        Set<String> keep = Set.of("noun.animal", "noun.artifact", "noun.food");
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(from))
            if (out.size() < n && keep.contains(new ObjectMapper().readTree(line).get("label").asText())) out.add(line);
        Files.write(to, out);
        return to;
    }

    static double accuracy(String out) {
        String line = out.lines().filter(l -> l.startsWith("accuracy ")).findFirst().orElseThrow(() -> new AssertionError("no accuracy in: " + out));
        return Double.parseDouble(line.split("\\s+")[1]);
    }

    @Test
    void probeLoraAndFullTrainSaveAndEvaluate() throws IOException {
        for (String method : List.of("probe", "lora", "full")) {
            Path out = tmp.resolve(method);
            List<String> args = new ArrayList<>(List.of("train", "--task", "seq-cls", "--model", model.toString(), "--data", train.toString(),
                    "--eval-data", test.toString(), "--out", out.toString(), "--epochs", "2"));
            if (!method.equals("lora")) args.add("--" + method);
            CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
            assertThat(r.code()).as(r.err()).isZero();
            double trained = accuracy(r.out());
            assertThat(trained).as(method + " test accuracy over 3 balanced-ish classes").isGreaterThan(0.6);
            JsonNode results = new ObjectMapper().readTree(out.resolve("train_results.json").toFile());
            assertThat(results.get("method").asText()).isEqualTo(method);
            assertThat(results.get("eval").get("accuracy").asDouble()).isEqualTo(trained, org.assertj.core.data.Offset.offset(1e-4));
            CliRunner.Run e = method.equals("full")
                    ? CliRunner.run("eval", "--task", "seq-cls", "--model", out.toString(), "--data", test.toString(), "--json")
                    : CliRunner.run("eval", "--task", "seq-cls", "--model", model.toString(), "--adapter", out.toString(), "--data", test.toString(), "--json");
            assertThat(e.code()).as(e.err()).isZero();
            assertThat(new ObjectMapper().readTree(e.lastLine()).get("accuracy").asDouble()).as(method + ": the saved classifier scores as trained")
                    .isEqualTo(trained, org.assertj.core.data.Offset.offset(1e-4));
            if (method.equals("full")) assertThat(out.resolve("model.safetensors")).exists();
            else assertThat(Files.readString(out.resolve("adapter_config.json"))).contains("\"SEQ_CLS\"").contains("\"classifier\"");
        }
    }

    @Test
    void badInputsAreCleanErrors() throws IOException {
        Path noLabel = tmp.resolve("nolabel.jsonl"), oneClass = tmp.resolve("oneclass.jsonl"), other = tmp.resolve("other.jsonl");
        Files.writeString(noLabel, "{\"text\": \"a cat\", \"label\": \"x\"}\n{\"text\": \"a dog\"}\n");
        Files.writeString(oneClass, "{\"text\": \"a cat\", \"label\": \"x\"}\n{\"text\": \"a dog\", \"label\": \"x\"}\n");
        Files.writeString(other, "{\"text\": \"a cat\", \"label\": \"noun.weather\"}\n");
        String m = model.toString();
        List<String[]> cases = List.of(
                new String[] {"train", "--task", "seq-cls", "--model", m, "--data", noLabel.toString(), "--out", tmp.resolve("x1").toString()},
                new String[] {"train", "--task", "seq-cls", "--model", m, "--data", oneClass.toString(), "--out", tmp.resolve("x2").toString()},
                new String[] {"train", "--task", "seq-cls", "--model", m, "--data", train.toString(), "--out", tmp.resolve("x3").toString(), "--dora"},
                new String[] {"train", "--task", "seq-cls", "--model", m, "--data", train.toString(), "--out", tmp.resolve("x4").toString(), "--lr", "NaN"},
                new String[] {"train", "--task", "seq-cls", "--model", m, "--data", train.toString(), "--out", tmp.resolve("x5").toString(), "--probe", "--full"},
                new String[] {"train", "--task", "regression", "--model", m, "--data", train.toString(), "--out", tmp.resolve("x6").toString()},
                new String[] {"train", "--probe", "--model", m, "--data", train.toString(), "--out", tmp.resolve("x7").toString()},
                new String[] {"eval", "--task", "seq-cls", "--model", m, "--data", test.toString()});
        List<String> expected = List.of("nolabel.jsonl:2", "at least 2 distinct labels", "does not take --dora", "--lr", "not both", "--task must be",
                "--task seq-cls", "no classifier.weight");
        for (int i = 0; i < cases.size(); i++) {
            CliRunner.Run r = CliRunner.run(cases.get(i));
            assertThat(r.code()).as(String.join(" ", cases.get(i))).isNotZero();
            assertThat(r.err()).as(String.join(" ", cases.get(i))).startsWith("lora4j: error:").contains(expected.get(i)).doesNotContain("Exception");
        }
        for (int i = 1; i <= 7; i++) assertThat(tmp.resolve("x" + i)).doesNotExist();
    }
}

package dev.lora4j.lab;

import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** sweep: every configuration trained and evaluated, tables written, a rerun resumes, budgets set ranks. */
class SweepTest {
    @TempDir
    Path tmp;

    String[] args(Path out, String... extra) {
        Path base = TestPaths.fixture("llama-gqa");
        var a = new java.util.ArrayList<>(java.util.List.of("sweep", "--model", base.toString(), "--data", base.resolve("eval.jsonl").toString(),
                "--eval-data", base.resolve("eval.jsonl").toString(), "--out", out.toString(), "--steps", "2", "--lr", "0.01",
                "--batch-size", "3", "--seq-len", "12"));
        a.addAll(java.util.List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void sweepsTabulatesAndResumes() throws IOException {
        Path out = tmp.resolve("sweep");
        CliRunner.Run r = CliRunner.run(args(out, "--ranks", "1,2", "--targets", "q,qv", "--report", out.resolve("report").toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readAllLines(out.resolve("sweep.csv"))).hasSize(5).first().asString().startsWith("targets,rank,trainable");
        assertThat(Files.readString(out.resolve("sweep.md"))).contains("| qv | 2 | 896 |");
        assertThat(out.resolve("report/index.html")).exists();
        assertThat(out.resolve("report/eval-loss-vs-rank.png")).exists();
        // a second run finds every configuration done and trains nothing
        CliRunner.Run again = CliRunner.run(args(out, "--ranks", "1,2", "--targets", "q,qv"));
        assertThat(again.code()).isZero();
        assertThat(again.err()).contains("[4/4] qv-r2: done before, skipped").doesNotContain("training");
    }

    @Test
    void promptCompletionDataIsEncodedForEvaluationToo() throws IOException {
        // the newcomer's case: text data trained the first configuration, then evaluation read it as input_ids
        Path out = tmp.resolve("text"), data = TestPaths.repo("examples/past-tense.jsonl");
        CliRunner.Run r = CliRunner.run("sweep", "--model", TestPaths.bundledModel().toString(), "--data", data.toString(),
                "--eval-data", data.toString(), "--out", out.toString(), "--steps", "2", "--ranks", "1", "--targets", "q",
                "--batch-size", "4", "--seq-len", "32");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readAllLines(out.resolve("sweep.csv"))).hasSize(2);
    }

    @Test
    void aBudgetGivesEachTargetSetItsRank() throws IOException {
        Path out = tmp.resolve("budget");
        // q alone: 2 layers × (64 + 64) = 256 per rank; q+v: 2 × (128 + 96) = 448 per rank
        CliRunner.Run r = CliRunner.run(args(out, "--budget", "1792", "--targets", "q,qv"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readString(out.resolve("sweep.md"))).contains("| q | 7 | 1,792 |", "| qv | 4 | 1,792 |");
    }

    @Test
    void emptyOrImpossibleSweepsAreRefused() {
        assertThat(CliRunner.run(args(tmp.resolve("e"), "--targets", "qx")).err()).contains("use the letters q, k, v, o");
        CliRunner.Run none = CliRunner.run(args(tmp.resolve("n"), "--targets", ""));
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err()).contains("the sweep is empty");
    }
}

package dev.lora4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.model.Transformer;
import dev.lora4j.tokenizer.BpeTrainer;
import dev.lora4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The generated text and task, the BPE trainer, pretraining from scratch, and the demo end to end (short runs). */
class DemoTest {
    @TempDir
    Path tmp;

    @Test
    void storiesAreDeterministicAndTheTaskAsksForThePastTense() {
        assertThat(new Stories(3).corpus(2000)).isEqualTo(new Stories(3).corpus(2000));
        List<Stories.Example> train = new Stories(5).task(300, Set.of());
        Set<String> present = new HashSet<>();
        for (Stories.Example e : train) {
            String p = Stories.sentenceOf(e.prompt());
            assertThat(e.prompt()).isEqualTo(Stories.prompt(p)).endsWith("\nIn the past:");
            assertThat(present.add(p)).as("distinct prompts").isTrue();
            assertThat(e.answer()).startsWith(" ").doesNotContain(".");
            for (String verb : e.answer().strip().split(", ")) assertThat(p).doesNotContain(" " + verb + " ");
        }
        assertThat(train).anySatisfy(e -> assertThat(e.answer()).isEqualTo(" " + "was, jumped"));
        for (Stories.Example e : new Stories(6).task(100, present)) assertThat(present).doesNotContain(Stories.sentenceOf(e.prompt()));
    }

    @Test
    void trainedTokenizerRoundTripsAndLearnsWholeWords() throws IOException {
        String text = new Stories(1).corpus(50_000);
        var json = BpeTrainer.train(text, 400, List.of(Pretrain.EOS));
        Path f = tmp.resolve("tokenizer.json");
        new ObjectMapper().writeValue(f.toFile(), json);
        Tokenizer tok = Tokenizer.load(f);
        assertThat(tok.vocabSize()).isLessThanOrEqualTo(400);
        for (String s : List.of("Tom sees a red ball.", "Unseen wörds, digits 123 and ✨ still round-trip.\n"))
            assertThat(tok.decode(tok.encode(s))).isEqualTo(s);
        assertThat(tok.encode(" Anna")).hasSize(1);
        assertThat(tok.encode(" Tom" + Pretrain.EOS)).hasSize(2).endsWith(tok.vocabSize() - 1);
    }

    @Test
    void pretrainWritesAModelThatLoadsWithItsCard() throws IOException {
        Path out = tmp.resolve("tiny");
        Pretrain.Options o = new Pretrain.Options(out, 32, 1, 2, 1, 64, 300, 32, 4, 4, 3e-3, 2, 20_000, dev.lora4j.tensor.DType.BF16);
        Pretrain.run(o, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try (Transformer m = Transformer.load(out)) {
            assertThat(m.config().dim()).isEqualTo(32);
            assertThat(m.config().vocabSize()).isEqualTo(Tokenizer.load(out).vocabSize());
            assertThat(m.tokenEmbedding().dtype()).isEqualTo(dev.lora4j.tensor.DType.BF16);
        }
        assertThat(Files.readString(out.resolve("README.md"))).contains("lora4j pretrain --out " + out, "--steps 4", "--seed 2", "--dtype bf16");
        assertThatThrownBy(() -> Pretrain.run(o, System.err)).isInstanceOf(Lora4jException.class).hasMessageContaining("not empty");
    }

    @Test
    void demoRunsEndToEndOnTheBundledModel() throws IOException {
        Path out = tmp.resolve("demo");
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        Demo.run(new Demo.Options(out, null, 10, 2, List.of("q_proj", "v_proj"), false, 7, 100, 6), new PrintStream(stdout, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        String text = stdout.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("1. The base model", "trainable%", "exact match", "6/6 answers identical to base + adapter", "LoRA against full fine-tuning");
        for (String f : List.of("adapter/adapter_model.safetensors", "adapter/adapter_config.json", "merged/model.safetensors", "report/index.html",
                "base/README.md", "train.jsonl", "held-out.jsonl", dev.lora4j.io.OwnedDirectory.MANIFEST))
            assertThat(out.resolve(f)).exists();
        // a second run replaces its own output; a directory that is not a demo's is refused
        Demo.run(new Demo.Options(out, null, 2, 2, List.of("q_proj", "v_proj"), false, 7, 20, 2), new PrintStream(new ByteArrayOutputStream()), new PrintStream(new ByteArrayOutputStream()));
        Path other = Files.createDirectories(tmp.resolve("other"));
        Files.writeString(other.resolve("keep.txt"), "mine");
        assertThatThrownBy(() -> Demo.run(new Demo.Options(other, null, 2, 2, List.of("q_proj", "v_proj"), false, 7, 20, 2), System.out, System.err))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("not a lora4j demo output");
        assertThat(other.resolve("keep.txt")).exists();
        // the old defect: any directory holding a file named demo.json was deleted whole
        Files.writeString(other.resolve("demo.json"), "{\"lora4j_demo\": true}\n");
        assertThatThrownBy(() -> Demo.run(new Demo.Options(other, null, 2, 2, List.of("q_proj", "v_proj"), false, 7, 20, 2), System.out, System.err))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("nothing was deleted");
        assertThat(other.resolve("keep.txt")).hasContent("mine");
        // a real demo output with one file of the user's added is not replaced either, and loses nothing
        Files.writeString(out.resolve("adapter/notes.txt"), "mine");
        long before;
        try (var files = Files.walk(out)) {
            before = files.count();
        }
        assertThatThrownBy(() -> Demo.run(new Demo.Options(out, null, 2, 2, List.of("q_proj", "v_proj"), false, 7, 20, 2), System.out, System.err))
                .isInstanceOf(Lora4jException.class).hasMessageContainingAll("adapter/notes.txt", "did not write", "nothing was deleted");
        try (var files = Files.walk(out)) {
            assertThat(files.count()).isEqualTo(before);
        }
    }
}

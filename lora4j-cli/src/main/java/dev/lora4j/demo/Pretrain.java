package dev.lora4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;
import dev.lora4j.tokenizer.BpeTrainer;
import dev.lora4j.train.Schedule;
import dev.lora4j.train.DataConfig;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.TrainingRun;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Pretraining from scratch with lora4j's own engine: generates the story text ({@link Stories}),
 * trains a byte-level BPE tokenizer on it, initialises a small Llama (grouped-query attention, RoPE,
 * SwiGLU, tied embeddings) at random, trains every weight on the packed text (AdamW, warm-up then
 * cosine decay), and writes a Hugging Face model directory with a model card that gives the command
 * reproducing it. This is how the bundled base model was made.
 */
public final class Pretrain {
    /** The model's shape and the run's length. */
    public record Options(Path out, int dim, int layers, int heads, int kvHeads, int hidden, int vocab, int seqLen,
                          long steps, int batch, double lr, long seed, int corpusChars, DType dtype) {

        /** The command line that makes exactly this model. */
        String command() {
            return String.format(Locale.ROOT, "lora4j pretrain --out %s --dim %d --layers %d --heads %d --kv-heads %d --hidden %d --vocab %d "
                    + "--seq-len %d --steps %d --batch-size %d --lr %s --seed %d --corpus-chars %d --dtype %s",
                    out, dim, layers, heads, kvHeads, hidden, vocab, seqLen, steps, batch, lr, seed, corpusChars, dtype.name().toLowerCase(Locale.ROOT));
        }
    }

    public static final String EOS = "<|endoftext|>";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Pretrain() {}

    public static void run(Options o, PrintStream progress) throws IOException {
        if (o.dim() % o.heads() != 0 || o.heads() % o.kvHeads() != 0)
            throw new Lora4jException("--dim must be a multiple of --heads, and --heads a multiple of --kv-heads");
        if (Files.exists(o.out()) && !isEmptyDir(o.out())) throw new Lora4jException(o.out() + ": exists and is not empty; pretrain writes a new model directory");
        Path work = Files.createTempDirectory("lora4j-pretrain");
        try {
            long t0 = System.nanoTime();
            progress.printf(Locale.ROOT, "text: %,d characters of generated stories (seed %d)%n", o.corpusChars(), o.seed());
            String corpus = new Stories(o.seed()).corpus(o.corpusChars());
            ObjectNode tokenizer = BpeTrainer.train(corpus, o.vocab(), List.of(EOS));
            int vocab = tokenizer.get("model").get("vocab").size();
            progress.printf("tokenizer: byte-level BPE, %d tokens (%d merges)%n", vocab, tokenizer.get("model").get("merges").size());
            Path init = work.resolve("init");
            Files.createDirectories(init);
            JSON.writeValue(init.resolve("tokenizer.json").toFile(), tokenizer);
            JSON.writeValue(init.resolve("tokenizer_config.json").toFile(), Map.of("tokenizer_class", "PreTrainedTokenizerFast",
                    "bos_token", EOS, "eos_token", EOS, "model_max_length", o.seqLen()));
            JSON.writeValue(init.resolve("config.json").toFile(), config(o, vocab));
            SafeTensorsWriter.write(init.resolve("model.safetensors"), randomWeights(o, vocab), DType.F32, Map.of("format", "pt"));
            // one story a line, each ended by the end-of-text token, packed into seqLen blocks
            Path text = work.resolve("stories.txt");
            Files.writeString(text, corpus.replace("\n", EOS + "\n"));
            Path run = work.resolve("run");
            TrainOptions t = TrainOptions.builder(init, text, run).full(true)
                    .data(DataConfig.builder(text).pack(true).appendEos(false).build())
                    .train(TrainConfig.builder().optimizer(OptimizerConfig.builder().lr(o.lr()).weightDecay(0.1).betas(0.9, 0.95).build())
                            .schedule(new ScheduleConfig(Schedule.COSINE, Math.max(1, o.steps() / 20))).steps(o.steps())
                            .batchSize(o.batch()).seqLen(o.seqLen()).seed(o.seed()).build())
                    .build();
            TrainingRun.Result r = TrainingRun.start(t, progress, false, dev.lora4j.lab.CommandLineTraining.install());
            Files.createDirectories(o.out());
            for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "loss.png"))
                AtomicFiles.write(o.out().resolve(f), out -> Files.copy(run.resolve(f), out));
            // the weights in the dtype asked for (trained in fp32; bf16 halves the file, rounded once)
            try (SafeTensors st = SafeTensors.open(run.resolve("model.safetensors"))) {
                Map<String, Tensor> w = new LinkedHashMap<>();
                for (String name : st.entries().keySet()) w.put(name, st.tensor(name));
                SafeTensorsWriter.write(o.out().resolve("model.safetensors"), w, o.dtype(), Map.of("format", "pt"));
            }
            if (o.dtype() == DType.BF16) {
                ObjectNode cfg = (ObjectNode) JSON.readTree(run.resolve("config.json").toFile());
                cfg.put("torch_dtype", "bfloat16");
                AtomicFiles.writeString(o.out().resolve("config.json"), JSON.writeValueAsString(cfg));
            }
            double minutes = (System.nanoTime() - t0) / 60e9;
            AtomicFiles.writeString(o.out().resolve("README.md"), card(o, vocab, r.lastLoss(), minutes));
            progress.printf(Locale.ROOT, "pretrained in %.1f minutes; model in %s%n", minutes, o.out());
        } finally {
            AtomicFiles.deleteTree(work);
        }
    }

    private static boolean isEmptyDir(Path p) throws IOException {
        if (!Files.isDirectory(p)) return false;
        try (var s = Files.list(p)) {
            return s.findAny().isEmpty();
        }
    }

    private static Map<String, Object> config(Options o, int vocab) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("model_type", "llama");
        c.put("architectures", List.of("LlamaForCausalLM"));
        c.put("hidden_size", o.dim());
        c.put("intermediate_size", o.hidden());
        c.put("num_attention_heads", o.heads());
        c.put("num_key_value_heads", o.kvHeads());
        c.put("num_hidden_layers", o.layers());
        c.put("vocab_size", vocab);
        c.put("max_position_embeddings", o.seqLen());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", true);
        c.put("hidden_act", "silu");
        c.put("bos_token_id", vocab - 1);
        c.put("eos_token_id", vocab - 1);
        c.put("torch_dtype", "float32");
        return c;
    }

    /** N(0, 0.02) weights (the residual outputs scaled by 1/√(2·layers), as GPT-2 does), unit norms. */
    private static Map<String, Tensor> randomWeights(Options o, int vocab) {
        SplittableRandom rnd = new SplittableRandom(o.seed());
        Map<String, Tensor> w = new LinkedHashMap<>();
        int kv = o.dim() / o.heads() * o.kvHeads();
        double residual = 0.02 / Math.sqrt(2.0 * o.layers());
        w.put("model.embed_tokens.weight", normal(rnd, "model.embed_tokens.weight", 0.02, vocab, o.dim()));
        for (int l = 0; l < o.layers(); l++) {
            String p = "model.layers." + l + ".";
            w.put(p + "input_layernorm.weight", ones(p + "input_layernorm.weight", o.dim()));
            w.put(p + "self_attn.q_proj.weight", normal(rnd, p + "self_attn.q_proj.weight", 0.02, o.dim(), o.dim()));
            w.put(p + "self_attn.k_proj.weight", normal(rnd, p + "self_attn.k_proj.weight", 0.02, kv, o.dim()));
            w.put(p + "self_attn.v_proj.weight", normal(rnd, p + "self_attn.v_proj.weight", 0.02, kv, o.dim()));
            w.put(p + "self_attn.o_proj.weight", normal(rnd, p + "self_attn.o_proj.weight", residual, o.dim(), o.dim()));
            w.put(p + "post_attention_layernorm.weight", ones(p + "post_attention_layernorm.weight", o.dim()));
            w.put(p + "mlp.gate_proj.weight", normal(rnd, p + "mlp.gate_proj.weight", 0.02, o.hidden(), o.dim()));
            w.put(p + "mlp.up_proj.weight", normal(rnd, p + "mlp.up_proj.weight", 0.02, o.hidden(), o.dim()));
            w.put(p + "mlp.down_proj.weight", normal(rnd, p + "mlp.down_proj.weight", residual, o.dim(), o.hidden()));
        }
        w.put("model.norm.weight", ones("model.norm.weight", o.dim()));
        return w;
    }

    private static Tensor normal(SplittableRandom rnd, String name, double std, int rows, int cols) {
        float[] a = new float[rows * cols];
        for (int i = 0; i < a.length; i++) a[i] = (float) (std * gaussian(rnd));
        return Tensor.of(name, a, rows, cols);
    }

    private static double gaussian(SplittableRandom rnd) { // Box–Muller: SplittableRandom has no nextGaussian of its own
        double u = 1 - rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static Tensor ones(String name, int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return Tensor.of(name, a, n);
    }

    private static String card(Options o, int vocab, double loss, double minutes) {
        return String.format(Locale.ROOT, """
                # lora4j-stories: the bundled base model

                A small Llama (%d layers, hidden size %d, %d attention heads sharing %d key/value heads, SwiGLU
                MLP of %d, RoPE, tied embeddings, %d-token context) with its own byte-level BPE tokenizer of
                %d tokens, pretrained from scratch by lora4j itself. Nothing here was downloaded or copied.

                **Text.** %,d characters of short children's stories that lora4j generates from a small grammar
                with a seeded random source (`dev.lora4j.demo.Stories`, seed %d): a dozen characters, their
                animals, toys and places, and what they do to each other; each story told wholly in the
                present or wholly in the past tense.

                **Training.** `lora4j pretrain` trains the tokenizer on that text, initialises the weights at
                random (N(0, 0.02), residual outputs scaled by 1/√(2·layers)), and trains every weight on the
                stories packed into %d-token blocks: AdamW (β = 0.9, 0.95, weight decay 0.1), learning rate
                %s with warm-up then cosine decay, batch %d, %d steps, in fp32. Final training loss %.3f; it
                took %.1f minutes on this project's 2-core machine. `loss.png` is the curve. The weights are
                stored in %s.

                **What it cannot do.** It has read every verb in both tenses but has never been asked to put a
                sentence's verbs into the past tense: that is the downstream task `lora4j demo` teaches it
                with a LoRA adapter (0%% of held-out prompts right before, most of them after).

                **Reproduce** (deterministic for a given seed and thread count; this one ran on %d threads):

                ```
                %s
                ```
                """, o.layers(), o.dim(), o.heads(), o.kvHeads(), o.hidden(), o.seqLen(), vocab, o.corpusChars(), o.seed(),
                o.seqLen(), o.lr(), o.batch(), o.steps(), loss, minutes, o.dtype() == DType.BF16 ? "bf16 (rounded once from fp32)" : "fp32",
                dev.lora4j.tensor.Parallel.threads(), o.command());
    }
}

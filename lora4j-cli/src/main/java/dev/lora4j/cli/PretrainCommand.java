package dev.lora4j.cli;

import dev.lora4j.demo.Pretrain;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = {"Pretrain a small Llama from scratch on generated stories, with its own BPE tokenizer.",
                "The defaults made the bundled base model (models/lora4j-stories), whose README gives the exact command.",
                "Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json, loss.png and a model card."})
final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The new model directory (must not exist or be empty).")
    Path out;
    @Option(names = "--dim", defaultValue = "192", description = "Hidden size (default: ${DEFAULT-VALUE}).")
    int dim;
    @Option(names = "--layers", defaultValue = "6", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int layers;
    @Option(names = "--heads", defaultValue = "6", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads;
    @Option(names = "--kv-heads", defaultValue = "2", description = "Key/value heads, shared by groups of query heads (default: ${DEFAULT-VALUE}).")
    int kvHeads;
    @Option(names = "--hidden", defaultValue = "512", description = "SwiGLU MLP width (default: ${DEFAULT-VALUE}).")
    int hidden;
    @Option(names = "--vocab", defaultValue = "512", description = "Tokenizer size, end-of-text token included (default: ${DEFAULT-VALUE}).")
    int vocab;
    @Option(names = "--seq-len", defaultValue = "128", description = "Context length and training block (default: ${DEFAULT-VALUE}).")
    int seqLen;
    @Option(names = "--steps", defaultValue = "2000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    long steps;
    @Option(names = "--batch-size", defaultValue = "16", description = "Blocks per step (default: ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--lr", defaultValue = "2e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--seed", defaultValue = "1", description = "Seed of the text, the weights and the data order (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--corpus-chars", defaultValue = "4000000", description = "Characters of generated text (default: ${DEFAULT-VALUE}).")
    int corpusChars;
    @Option(names = "--dtype", defaultValue = "bf16", description = "Stored weights: f32 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;
    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();

    @Override
    public Integer call() throws Exception {
        threads.apply();
        for (int v : new int[] {dim, layers, heads, kvHeads, hidden, seqLen, batch, corpusChars}) Options.positive("model and run sizes", v);
        if (vocab < 258) throw new dev.lora4j.Lora4jException("--vocab must be at least 258 (the 256 bytes, a merge, end-of-text), got " + vocab);
        dev.lora4j.tensor.DType dt = dev.lora4j.tensor.DType.ofOption(dtype);
        if (dt == null || dt == dev.lora4j.tensor.DType.F16) throw new dev.lora4j.Lora4jException("--dtype must be f32 or bf16, got '" + dtype + "'");
        Pretrain.run(new Pretrain.Options(out, dim, layers, heads, kvHeads, hidden, vocab, seqLen, steps, batch, lr, seed, corpusChars, dt), System.err);
        return 0;
    }
}

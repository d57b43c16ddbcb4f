package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.train.Schedule;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fine-tune with LoRA (or --full) and write a PEFT adapter.",
                "--out receives adapter_config.json and adapter_model.safetensors (or a full checkpoint), metrics.jsonl and",
                "loss.png. Data: JSONL, one example a line (input_ids, text, prompt + completion, or chat messages), or .txt."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;
    @Option(names = "--data", paramLabel = "FILE", description = "Training data: JSONL (input_ids (+ labels), text, prompt + completion, or messages per line) or .txt.")
    Path data;
    @Option(names = "--out", paramLabel = "DIR", description = "Output directory: new or empty (an earlier run there: --resume it or --overwrite it).")
    Path out;

    @Option(names = "--r", defaultValue = "8", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int r;
    @Option(names = "--alpha", defaultValue = "8", description = "lora_alpha; scale = alpha/r (default: ${DEFAULT-VALUE}).")
    double alpha;
    @Option(names = "--dropout", defaultValue = "0.0", description = "lora_dropout on the adapter input (default: ${DEFAULT-VALUE}).")
    double dropout;
    @Option(names = "--target", paramLabel = "LIST", description = "Modules to adapt: comma list (exact name or .suffix), or all-linear. Default: c_attn (GPT-2), q_proj,v_proj (Llama family).")
    String target;
    @Option(names = "--target-regex", paramLabel = "REGEX", description = "Modules to adapt: a regex that must match the whole module name.")
    String targetRegex;
    @Option(names = "--layers", paramLabel = "LIST", split = ",", description = "Only these layer indices (layers_to_transform).")
    List<Integer> layers;
    @Option(names = "--rank-pattern", paramLabel = "KEY=R,...", split = ",", description = "Per-module ranks (PEFT's rank_pattern): module name or regex suffix = rank.")
    java.util.Map<String, Integer> rankPattern;
    @Option(names = "--alpha-pattern", paramLabel = "KEY=A,...", split = ",", description = "Per-module alphas (PEFT's alpha_pattern).")
    java.util.Map<String, Double> alphaPattern;
    @Option(names = "--init", defaultValue = "kaiming", description = "Initialisation of A: kaiming or gaussian (default: ${DEFAULT-VALUE}).")
    String init;
    @Option(names = "--rslora", description = "Rank-stabilised scaling alpha/sqrt(r).")
    boolean rslora;

    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd (default: ${DEFAULT-VALUE}).")
    String optimizer;
    @Option(names = "--momentum", defaultValue = "0", description = "SGD momentum (default: ${DEFAULT-VALUE}).")
    double momentum;
    @Option(names = "--lr", defaultValue = "2e-4", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--weight-decay", defaultValue = "0", description = "Weight decay; decoupled for AdamW, L2 for SGD (default: ${DEFAULT-VALUE}).")
    double weightDecay;
    @Option(names = "--betas", defaultValue = "0.9,0.999", description = "AdamW betas (default: ${DEFAULT-VALUE}).")
    String betas;
    @Option(names = "--eps", defaultValue = "1e-8", description = "AdamW eps (default: ${DEFAULT-VALUE}).")
    double eps;
    @Option(names = "--schedule", defaultValue = "linear", description = "constant, linear or cosine (default: ${DEFAULT-VALUE}).")
    String schedule;
    @Option(names = "--warmup-steps", defaultValue = "0", description = "Linear warm-up steps (default: ${DEFAULT-VALUE}).")
    long warmupSteps;
    @Option(names = "--steps", defaultValue = "0", description = "Optimizer steps (default: as many as --epochs take).")
    long steps;
    @Option(names = "--epochs", defaultValue = "1", description = "Passes over the data when --steps is not given (default: ${DEFAULT-VALUE}).")
    int epochs;
    @Option(names = "--batch-size", defaultValue = "8", description = "Examples per micro-batch (default: ${DEFAULT-VALUE}).")
    int batchSize;
    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step (default: ${DEFAULT-VALUE}).")
    int gradAccum;
    @Option(names = "--seq-len", defaultValue = "512", description = "Truncate examples to this many tokens (default: ${DEFAULT-VALUE}).")
    int seqLen;
    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Clip the global gradient norm; 0 disables (default: ${DEFAULT-VALUE}).")
    double maxGradNorm;
    @Option(names = "--seed", defaultValue = "42", description = "Seed of initialisation, data order and dropout (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--no-shuffle", description = "Keep the data in file order.")
    boolean noShuffle;

    @Option(names = "--eval-data", paramLabel = "FILE", description = "Evaluation data (the same formats as --data).")
    Path evalData;
    @Option(names = "--eval-every", defaultValue = "0", description = "Evaluate every N steps (and at the end).")
    long evalEvery;
    @Option(names = "--save-every", defaultValue = "0", description = "Write a resumable checkpoint-N every N steps.")
    long saveEvery;
    @Option(names = "--resume", paramLabel = "DIR", description = "Continue a run from its checkpoint (or the newest checkpoint of an output directory), with its settings; with --steps N, train a finished run further.")
    Path resume;
    @Option(names = "--init-adapter", paramLabel = "DIR", description = "Start from this PEFT adapter, taking its r, alpha and targets.")
    Path initAdapter;
    @Option(names = "--full", description = "Full fine-tuning baseline: every weight trained; --out receives a complete HF checkpoint.")
    boolean full;
    @Option(names = "--log-every", defaultValue = "0", description = "Progress line every N steps when not on a terminal (default: 20 lines per run).")
    long logEvery;
    @Option(names = "--pack", description = "Concatenate the examples into --seq-len blocks (HF's group_texts) instead of one per row.")
    boolean pack;
    @Option(names = "--eval-split", defaultValue = "0", paramLabel = "FRACTION", description = "Hold out this fraction of --data for evaluation (when no --eval-data).")
    double evalSplit;
    @Option(names = "--overwrite", description = "Replace the earlier run in --out (only the files it listed are deleted; anything else there is refused).")
    boolean overwrite;
    @Option(names = "--skip-bad-lines", description = "Count and skip data lines that are not valid examples, instead of stopping.")
    boolean skipBadLines;
    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template for \"messages\" data, instead of tokenizer_config.json's.")
    Path chatTemplate;
    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        threads.apply();
        if (resume != null) {
            java.util.List<String> ignored = new ArrayList<>();
            for (var opt : spec.commandLine().getParseResult().matchedOptions()) {
                String name = opt.longestName();
                if (!java.util.Set.of("--resume", "--steps", "--threads").contains(name)) ignored.add(name);
            }
            if (!ignored.isEmpty())
                System.err.println("lora4j: note: --resume continues with the checkpoint's settings; ignored: " + String.join(", ", ignored)
                        + " (only --steps, to train further, and --threads apply)");
            boolean stepsGiven = spec.commandLine().getParseResult().hasMatchedOption("--steps");
            Trainer.resume(resume, stepsGiven ? steps : null, System.err, dev.lora4j.lab.CommandLineTraining.install());
            return 0;
        }
        if (model == null || data == null || out == null) throw new Lora4jException("train needs --model, --data and --out (or --resume DIR)");
        // every number is checked by TrainOptions, named by its option; here only what involves two options
        if (target != null && targetRegex != null) throw new Lora4jException("give --target or --target-regex, not both");
        LoraConfig.Targets targets = targetRegex != null ? new LoraConfig.TargetRegex(targetRegex)
                : target == null ? null
                : LoraConfig.parseTargets(target);
        double[] b = parseBetas(betas);
        TrainOptions o = TrainOptions.builder(model, data, out)
                .r(r).alpha(alpha).dropout(dropout).targets(targets).layers(layers == null ? null : new ArrayList<>(layers))
                .rankPattern(rankPattern == null ? java.util.Map.of() : rankPattern).alphaPattern(alphaPattern == null ? java.util.Map.of() : alphaPattern)
                .init(enumOf(LoraConfig.Init.class, "--init", init)).rslora(rslora)
                .optimizer(enumOf(TrainOptions.OptimizerKind.class, "--optimizer", optimizer)).momentum(momentum).lr(lr)
                .weightDecay(weightDecay).beta1(b[0]).beta2(b[1]).eps(eps).maxGradNorm(maxGradNorm)
                .schedule(enumOf(Schedule.class, "--schedule", schedule)).warmupSteps(warmupSteps)
                .steps(steps).epochs(epochs).batchSize(batchSize).gradAccum(gradAccum).seqLen(seqLen).seed(seed).shuffle(!noShuffle)
                .evalData(evalData).evalEvery(evalEvery).evalSplit(evalSplit).saveEvery(saveEvery).logEvery(logEvery)
                .initAdapter(initAdapter).full(full).pack(pack).skipBadLines(skipBadLines).chatTemplate(chatTemplate).build();
        if (evalSplit > 0 && evalData != null) throw new Lora4jException("give --eval-data or --eval-split, not both");
        if (full && initAdapter != null) throw new Lora4jException("--full trains every weight; it cannot start from --init-adapter");
        Trainer.train(o, System.err, overwrite, dev.lora4j.lab.CommandLineTraining.install());
        return 0;
    }

    private static double[] parseBetas(String s) {
        String[] p = s.split(",");
        try {
            if (p.length == 2) return new double[] {Double.parseDouble(p[0].strip()), Double.parseDouble(p[1].strip())};
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new Lora4jException("--betas must be two numbers like 0.9,0.999, got '" + s + "'");
    }

    private static <E extends Enum<E>> E enumOf(Class<E> type, String option, String value) {
        for (E e : type.getEnumConstants()) if (e.name().equalsIgnoreCase(value)) return e;
        throw new Lora4jException(option + " must be one of " + Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase()).toList() + ", got '" + value + "'");
    }
}

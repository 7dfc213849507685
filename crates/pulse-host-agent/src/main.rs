fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code =
        pulse_host_agent::main_with(&args, &|k| std::env::var(k).ok(), &mut std::io::stdout());
    std::process::exit(code);
}

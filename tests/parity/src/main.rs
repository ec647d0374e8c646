//! `plinth-parity`: compares kubeadm's and plinth's dry-run output for each config against the
//! allow-list in `docs/compatibility.md`. Run by `scripts/parity`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use plinth_parity::{Case, allow, compare, judge, show};

/// Compare kubeadm's and plinth's dry-run output.
#[derive(Parser)]
struct Cli {
    /// Markdown file with the ```parity-allow blocks.
    #[arg(long)]
    allow: PathBuf,
    /// NAME KUBEADM_DIR PLINTH_DIR (repeatable).
    #[arg(long, num_args = 3, value_names = ["NAME", "KUBEADM_DIR", "PLINTH_DIR"])]
    case: Vec<String>,
    /// Also print every listed difference with its reason.
    #[arg(long, short)]
    verbose: bool,
}

fn run(cli: &Cli) -> Result<bool> {
    let md = std::fs::read_to_string(&cli.allow)
        .with_context(|| format!("reading {}", cli.allow.display()))?;
    let entries = allow::parse(&md).with_context(|| format!("in {}", cli.allow.display()))?;
    let mut results = Vec::new();
    for c in cli.case.chunks(3) {
        let case = Case {
            name: c[0].clone(),
            kubeadm: c[1].clone().into(),
            plinth: c[2].clone().into(),
        };
        results.push((case.name.clone(), compare(&case)?));
    }
    let v = judge(&results, &entries);
    if cli.verbose {
        for (config, d, i) in &v.listed {
            println!(
                "listed    {config:<20} {}  kubeadm={} plinth={}  # {}",
                d.key,
                show(d.kubeadm.as_ref()),
                show(d.plinth.as_ref()),
                entries[*i].reason
            );
        }
    }
    for (config, d) in &v.unlisted {
        println!(
            "UNLISTED  {config:<20} {}  kubeadm={} plinth={}",
            d.key,
            show(d.kubeadm.as_ref()),
            show(d.plinth.as_ref())
        );
    }
    for e in &v.stale {
        println!(
            "STALE     {}:{}: `{}` allows nothing any more (remove it or fix the config)",
            cli.allow.display(),
            e.line,
            e.key
        );
    }
    println!("{}", v.summary());
    Ok(v.passed())
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

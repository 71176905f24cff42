//! The demo's subscriber: a minimal HTTP server on 127.0.0.1:9000 that prints every request it
//! receives and answers 200, so that `cargo xtask demo` shows deliveries arriving.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

pub const ADDR: &str = "127.0.0.1:9000";

/// Listens on a background thread; returns an error if the port is taken.
pub fn spawn() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDR)?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if let Err(error) = serve(stream) {
                    eprintln!("[subscriber] bad request: {error}");
                }
            });
        }
    });
    Ok(())
}

/// Reads one request (keep-alive connections may carry more), prints it, answers 200.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
                headers.push(line);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let shown: Vec<&String> = headers
            .iter()
            .filter(|h| {
                let h = h.to_ascii_lowercase();
                h.starts_with("webhook-") || h.starts_with("x-") || h.starts_with("content-type")
            })
            .collect();
        println!(
            "\n[subscriber] {}\n{}\n{}",
            request_line.trim_end(),
            shown
                .iter()
                .map(|h| format!("  {h}"))
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(&body)
        );
        writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")?;
    }
}

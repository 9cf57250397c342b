fn main() {
    println!("mapconform: work in progress");
}

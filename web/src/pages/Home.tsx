// Placeholder until its page is built (issue 13).
export  function Home() {
  return <p className="notice">Home is being built.</p>;
}

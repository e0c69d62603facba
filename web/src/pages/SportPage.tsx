// Placeholder until its page is built (issue 13).
export  function SportPage() {
  return <p className="notice">SportPage is being built.</p>;
}

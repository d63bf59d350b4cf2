/**
 * @module
 * A failure while showing one part of a screen (say, a message of a kind nobody foresaw) stays in
 * that part: it says so and how to recover, and the rest of the inbox keeps working.
 */
import { Component, type ComponentChildren } from "preact";

export class Boundary extends Component<{ what: string; children: ComponentChildren }, { failed: boolean }> {
  override state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  override componentDidCatch(error: unknown) {
    console.error(error);
  }
  override render() {
    if (!this.state.failed) return this.props.children;
    return (
      <p class="error" role="alert">
        The {this.props.what} could not be shown. Reload the page; if it happens again, tell us what you were doing.{" "}
        <button type="button" onClick={() => this.setState({ failed: false })}>
          Try again
        </button>
      </p>
    );
  }
}

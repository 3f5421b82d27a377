<?php
/**
 * A tiny test runner (no PHPUnit): loads bootstrap.php and every test-*.php here, runs each function
 * whose name starts with `test_`, and ends with the line "N passed, N failed" (exit 1 on a failure).
 *
 *     php integrations/wordpress/tests/run.php [name filter]
 *
 * @package RelatedHeadlines
 */

error_reporting( E_ALL );
ini_set( 'display_errors', 'stderr' );

// A PHP warning or notice in a test is a failure.
set_error_handler(
	function ( $severity, $message, $file, $line ) {
		throw new ErrorException( $message, 0, $severity, $file, $line );
	}
);

/**
 * A failed check.
 */
final class Test_Failure extends Exception {
}

/**
 * Fails unless the condition holds.
 *
 * @param bool   $condition The check.
 * @param string $message   What was expected.
 */
function check( $condition, $message = 'expected true' ) {
	if ( true !== $condition ) {
		throw new Test_Failure( $message );
	}
}

/**
 * Fails unless the two values are identical (===).
 *
 * @param mixed  $expected Expected.
 * @param mixed  $actual   Actual.
 * @param string $message  Context.
 */
function check_same( $expected, $actual, $message = '' ) {
	if ( $expected !== $actual ) {
		throw new Test_Failure( trim( $message . "\n    expected: " . var_export( $expected, true ) . "\n    actual:   " . var_export( $actual, true ) ) );
	}
}

/**
 * Fails unless the text contains the needle.
 *
 * @param string $needle   Expected part.
 * @param string $haystack The text.
 */
function check_contains( $needle, $haystack ) {
	if ( false === strpos( (string) $haystack, (string) $needle ) ) {
		throw new Test_Failure( 'expected to find ' . var_export( $needle, true ) . ' in ' . var_export( $haystack, true ) );
	}
}

/**
 * Fails if the text contains the needle (case-insensitive).
 *
 * @param string $needle   Forbidden part.
 * @param string $haystack The text.
 */
function check_lacks( $needle, $haystack ) {
	if ( false !== stripos( (string) $haystack, (string) $needle ) ) {
		throw new Test_Failure( 'did not expect ' . var_export( $needle, true ) . ' in ' . var_export( $haystack, true ) );
	}
}

require __DIR__ . '/bootstrap.php';
$files = glob( __DIR__ . '/test-*.php' );
sort( $files );
foreach ( $files as $file ) {
	require $file;
}

$filter = isset( $argv[1] ) ? $argv[1] : '';
$tests  = array_values(
	array_filter(
		get_defined_functions()['user'],
		function ( $name ) use ( $filter ) {
			return 0 === strpos( $name, 'test_' ) && ( '' === $filter || false !== strpos( $name, $filter ) );
		}
	)
);
$passed = 0;
$failed = 0;
foreach ( $tests as $test ) {
	try {
		$test();
		++$passed;
		echo "ok      $test\n";
	} catch ( Throwable $e ) {
		++$failed;
		$where = $e instanceof Test_Failure ? '' : ' (' . get_class( $e ) . ' at ' . basename( $e->getFile() ) . ':' . $e->getLine() . ')';
		echo "FAILED  $test$where\n    " . $e->getMessage() . "\n";
	}
}
echo "\n$passed passed, $failed failed\n";
exit( $failed > 0 || 0 === $passed ? 1 : 0 );
